"""CLEVR's objects, lights and camera, as Kubric's MOVi-A/B use them: one place for the
shapes, sizes, palette, materials (look and physics) and the light rig."""

import numpy as np

import kubric_gen as kg

SHAPES = {"cube": kg.Cube, "cylinder": kg.Cylinder, "sphere": kg.Sphere}
SIZES = {"small": 0.7, "large": 1.4}
COLORS = {  # CLEVR's palette (0-255), given to the renderer as linear values / 255, as MOVi-A does
    "blue": (42, 75, 215), "brown": (129, 74, 25), "cyan": (41, 208, 208), "gray": (87, 87, 87),
    "green": (29, 105, 20), "purple": (129, 38, 192), "red": (173, 35, 35), "yellow": (255, 238, 51),
}
MATERIALS = {  # appearance and physics of CLEVR's two materials
    "metal": {"look": {"metallic": 1.0, "roughness": 0.2, "ior": 2.5},
              "friction": 0.4, "restitution": 0.3, "density": 2.7},
    "rubber": {"look": {"metallic": 0.0, "roughness": 0.7, "ior": 1.25, "specular": 0.33},
               "friction": 0.8, "restitution": 0.7, "density": 1.1},
}
CAMERA = (7.48113, -6.50764, 5.34367)
# (kind, name, colour, power or strength, size, position before jitter)
LIGHTS = (
    ("sun", "sun", (1.0, 1.0, 1.0), 0.45, 0.0, (11.6608, -6.62799, 25.8232)),
    ("area", "lamp_back", (1.0, 1.0, 1.0), 50.0, 1.0, (-1.1685, 2.64602, 5.81574)),
    ("area", "lamp_key", (1.0, 0xED / 255, 0xD0 / 255), 100.0, 0.5, (6.44671, -2.90517, 4.2584)),
    ("area", "lamp_fill", (0xC2 / 255, 0xD0 / 255, 1.0), 30.0, 0.5, (-4.67112, -4.0136, 3.01122)),
)


def rgb(color_name):
    """A palette colour as the linear RGB in [0, 1] MOVi-A renders."""
    return tuple(c / 255 for c in COLORS[color_name])


def random_shape(rng, name, scale):
    """A CLEVR shape of random kind, colour and material with half-extent `scale` (m), labelled
    with its kind as `category` (the worlds that put shapes beside an articulated body)."""
    shape, color, material = kg.choice(rng, list(SHAPES)), kg.choice(rng, list(COLORS)), kg.choice(rng, list(MATERIALS))
    return SHAPES[shape](name=name, scale=(scale,) * 3, asset_id=shape, **made_of(material, rgb(color)),
                         labels={"category": shape})


def made_of(material, color):
    """Keyword arguments of a scene object in `material` ("metal", "rubber") of `color`:
    its Principled look, density, friction and restitution."""
    spec = MATERIALS[material]
    return {"material": kg.Principled(color=color, **spec["look"]), "density": spec["density"],
            "friction": spec["friction"], "restitution": spec["restitution"]}


def add_lights(scene, rng, jitter=1.0):
    """CLEVR's rig (a sun, and back, key and fill area lights), each moved by a uniform
    [0, jitter) metres along +x, +y and +z and aimed at the origin, as MOVi-A/B do."""
    for kind, name, color, power, size, position in LIGHTS:
        p = tuple(float(v) for v in np.asarray(position) + rng.uniform(0.0, 1.0, 3) * jitter)
        if kind == "sun":
            scene += kg.SunLight(name=name, color=color, strength=power, position=p, look_at=(0, 0, 0))
        else:
            scene += kg.AreaLight(name=name, color=color, power=power, size=size, position=p, look_at=(0, 0, 0))
