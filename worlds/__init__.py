"""Built-in worlds (scene scripts). Each module defines CONFIG and build(rng, config)."""
