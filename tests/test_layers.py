"""The package's layers (docs/architecture.md, "Layers"): every import, lazy ones included,
points to a lower layer or stays inside its own area. A new upward or sideways import fails
here with the line that makes it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top. Areas in one layer are siblings: they must not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("errors",),
    ("checks", "cache", "lazy", "parallel", "gpus", "preflight", "geometry", "labels", "beam", "visual",
     "mesh_files"),
    ("scene", "randomness"),
    ("meshes",),  # the triangles of every scene object: one source for physics, rendering and truth
    ("simulation",),
    ("__init__",),  # the public facade `import kubric_gen as kg`: scene, simulation, randomness, errors
    ("render", "truth", "assets"),
    ("worlds",),  # the built-in world scripts
    ("world",),  # loading worlds (built-in or files), configs, label schemas
    ("io",),
    ("generate",),  # one scene: world -> scene -> simulate -> render + truth -> io
    ("datasets", "pipeline"),
    ("export",),  # scene directories and prepared datasets to other tools' formats
    ("cli_options",),  # the options several commands share
    ("cli_validate", "cli_view", "subcommands"),  # subcommands: pipeline/cli.py, datasets/cli.py, assets/cli.py
    ("cli",),  # the `kubric-gen` entry point
]
LEVEL = {area: i for i, areas in enumerate(LAYERS) for area in areas}
COMMAND = "subcommands"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in (ROOT / "kubric_gen").rglob("*.py"):
        mods[".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")] = path
    for path in (ROOT / "worlds").glob("*.py"):  # installed as kubric_gen.worlds
        mods["kubric_gen.worlds" + ("" if path.stem == "__init__" else f".{path.stem}")] = path
    return mods


def _area(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and parts[-1] == "cli":  # pipeline.cli, datasets.cli, assets.cli: commands
        return COMMAND
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, mods: dict[str, Path]):
    """(line, imported module) for each kubric_gen import in the file; `from kubric_gen import
    geometry` is an import of kubric_gen.geometry, not of the facade."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            submodules = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods]
            targets = submodules if len(submodules) == len(node.names) else [node.module]
        else:
            continue
        for target in targets:
            while target and target not in mods:
                target = target.rpartition(".")[0]
            if target.startswith("kubric_gen"):
                yield node.lineno, target


def test_every_area_has_a_layer():
    areas = {_area(m) for m in _modules()}
    assert areas <= set(LEVEL), f"areas without a layer in LAYERS: {sorted(areas - set(LEVEL))}"


def test_imports_point_down_the_layers():
    mods = _modules()
    wrong = []
    for module, path in sorted(mods.items()):
        here = _area(module)
        for line, target in _imports(path, mods):
            there = _area(target)
            if there != here and LEVEL[there] >= LEVEL[here]:
                kind = "sideways" if LEVEL[there] == LEVEL[here] else "upward"
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {kind} import of {target} ({here} -> {there})")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_lazy_imports(tmp_path):
    """The walker finds an import inside a function body (the checks above would pass
    vacuously if it did not)."""
    mods = _modules()
    path = tmp_path / "lazy.py"
    path.write_text("def f():\n    from kubric_gen.pipeline import driver\n")
    found = list(_imports(path, mods | {"kubric_gen.pipeline.driver": path}))
    assert found == [(2, "kubric_gen.pipeline.driver")]
