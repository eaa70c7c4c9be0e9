"""What a URDF file declares: links with their visuals, joints with their limits.

Read with the standard library's XML parser, so that a scene naming a URDF is checked (joint
names, positions within limits, mesh files present) when it is built, before any physics; the
physics engine (PyBullet) loads the same file itself. Mesh paths resolve as PyBullet resolves
them: relative to the URDF's folder, with a leading ``package://`` dropped.
"""

from __future__ import annotations

import functools
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from kubric_gen.errors import SceneError

MOVABLE_JOINTS = ("revolute", "continuous", "prismatic")
"""Joint types with one degree of freedom (a position per frame); others are fixed (or, for
PyBullet's spherical joints, not driven by joint positions)."""
JOINT_TYPES = (*MOVABLE_JOINTS, "fixed", "floating", "planar", "spherical")


@dataclass(frozen=True)
class Visual:
    """One visual element of a link, in the link's frame: `origin` (xyz, rpy) places the geometry.

    `geometry` is "mesh" (`filename`, `scale`), "box" (`size`), "sphere" (`radius`), "cylinder"
    (`radius`, `length`) or "capsule" (`radius`, `length`); `rgba` is the material's colour (None:
    the URDF gives none)."""

    geometry: str
    xyz: tuple[float, ...]
    rpy: tuple[float, ...]
    filename: str | None = None
    scale: tuple[float, ...] = (1.0, 1.0, 1.0)
    size: tuple[float, ...] = (0.0, 0.0, 0.0)
    radius: float = 0.0
    length: float = 0.0
    rgba: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Joint:
    """A joint: its type, the links it connects, where the child's frame sits in the parent's
    (`xyz`, `rpy`), its axis (in the child's frame) and limits (movable joints; -inf..inf for a
    continuous joint)."""

    name: str
    type: str
    parent: str
    child: str
    xyz: tuple[float, ...]
    rpy: tuple[float, ...]
    axis: tuple[float, ...]
    lower: float
    upper: float


@dataclass(frozen=True)
class Robot:
    """A URDF's robot: links in file order (the first without a parent joint is the base), their
    visuals (a link without any: its collision shapes, as PyBullet shows them), and the joints."""

    path: str
    name: str
    links: tuple[str, ...]
    visuals: dict[str, tuple[Visual, ...]]
    joints: tuple[Joint, ...]
    masses: dict[str, float]  # each link's <inertial><mass> (0 when none)

    @property
    def base(self) -> str:
        children = {j.child for j in self.joints}
        return next(link for link in self.links if link not in children)

    @property
    def movable(self) -> dict[str, Joint]:
        """The joints that take a position, by name."""
        return {j.name: j for j in self.joints if j.type in MOVABLE_JOINTS}

    @property
    def spherical(self) -> dict[str, Joint]:
        """The ball joints (a rotation each, as PyBullet's URDF extension gives them), by name."""
        return {j.name: j for j in self.joints if j.type == "spherical"}


def _floats(text: str | None, count: int, where: str, path: str, default: float = 0.0) -> tuple[float, ...]:
    if text is None:
        return (default,) * count
    try:
        values = tuple(float(v) for v in text.split())
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise SceneError(f"{path}: {where}", text, f"expected {count} finite numbers")
    return values


def _origin(element: ET.Element, where: str, path: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    origin = element.find("origin")
    if origin is None:
        return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    return _floats(origin.get("xyz"), 3, f"{where} origin xyz", path), \
        _floats(origin.get("rpy"), 3, f"{where} origin rpy", path)


def _visual(element: ET.Element, link: str, colors: dict[str, tuple], path: str) -> Visual | None:
    where = f"link {link!r} visual"
    geometry = element.find("geometry")
    shape = geometry[0] if geometry is not None and len(geometry) else None
    if shape is None:
        raise SceneError(f"{path}: {where}", None, "has no geometry")
    xyz, rpy = _origin(element, where, path)
    material = element.find("material")
    rgba = None
    if material is not None:
        color = material.find("color")
        if color is not None:
            rgba = _floats(color.get("rgba"), 4, f"{where} material color", path)
        else:
            rgba = colors.get(material.get("name", ""))
    kind = shape.tag
    if kind == "mesh":
        name = shape.get("filename") or ""
        relative = name.removeprefix("package://")
        filename = os.path.normpath(os.path.join(os.path.dirname(path), relative))
        if not os.path.isfile(filename):
            raise SceneError(f"{path}: {where} mesh filename", name, "mesh file not found")
        scale = _floats(shape.get("scale"), 3, f"{where} mesh scale", path, 1.0)
        return Visual("mesh", xyz, rpy, filename=filename, scale=scale, rgba=rgba)
    if kind == "box":
        return Visual("box", xyz, rpy, size=_floats(shape.get("size"), 3, f"{where} box size", path), rgba=rgba)
    if kind in ("sphere", "cylinder", "capsule"):
        radius = _floats(shape.get("radius"), 1, f"{where} {kind} radius", path)[0]
        length = _floats(shape.get("length"), 1, f"{where} {kind} length", path)[0] if kind != "sphere" else 0.0
        return Visual(kind, xyz, rpy, radius=radius, length=length, rgba=rgba)
    raise SceneError(f"{path}: {where} geometry", kind, "expected mesh, box, sphere, cylinder or capsule")


def _joint(element: ET.Element, links: set[str], path: str) -> Joint:
    name = element.get("name") or ""
    kind = element.get("type") or ""
    if kind not in JOINT_TYPES:
        raise SceneError(f"{path}: joint {name!r} type", kind, f"expected one of {', '.join(JOINT_TYPES)}")
    ends = {}
    for end in ("parent", "child"):
        tag = element.find(end)
        ends[end] = tag.get("link") if tag is not None else None
        if ends[end] not in links:
            raise SceneError(f"{path}: joint {name!r} {end}", ends[end], "names no link of the file")
    xyz, rpy = _origin(element, f"joint {name!r}", path)
    axis_tag = element.find("axis")
    axis = _floats(axis_tag.get("xyz") if axis_tag is not None else None, 3, f"joint {name!r} axis", path)
    if axis_tag is None:
        axis = (1.0, 0.0, 0.0)  # URDF's default axis
    lower, upper = -math.inf, math.inf
    limit = element.find("limit")
    if kind in ("revolute", "prismatic"):
        if limit is None:
            raise SceneError(f"{path}: joint {name!r} limit", None, f"a {kind} joint needs <limit lower upper>")
        lower = _floats(limit.get("lower"), 1, f"joint {name!r} limit lower", path)[0]
        upper = _floats(limit.get("upper"), 1, f"joint {name!r} limit upper", path)[0]
        if lower > upper:
            raise SceneError(f"{path}: joint {name!r} limit", (lower, upper), "lower is above upper")
    return Joint(name, kind, str(ends["parent"]), str(ends["child"]), xyz, rpy, axis, lower, upper)


@functools.lru_cache(maxsize=64)
def _read(path: str, mtime_ns: int, size: int) -> Robot:
    with open(path, "rb") as f:
        text = f.read().rstrip(b"\0 \t\r\n")  # trailing NULs: PyBullet reads past them, so does this
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise SceneError(path, str(e), "not a readable URDF (XML)") from None
    if root.tag != "robot":
        raise SceneError(path, root.tag, "not a URDF: the root element must be <robot>")
    colors = {}
    for material in root.findall("material"):
        color = material.find("color")
        if color is not None:
            colors[material.get("name", "")] = _floats(color.get("rgba"), 4, "material color", path)
    links = [link.get("name") or "" for link in root.findall("link")]
    if not links:
        raise SceneError(path, None, "has no <link>")
    if len(set(links)) != len(links):
        raise SceneError(f"{path}: link", sorted({n for n in links if links.count(n) > 1})[0], "duplicate link name")
    visuals = {}
    for link in root.findall("link"):
        shown = link.findall("visual") or link.findall("collision")  # PyBullet shows a link's collision shapes
        found = [_visual(v, link.get("name") or "", colors, path) for v in shown]  # when it has no visuals
        visuals[link.get("name") or ""] = tuple(v for v in found if v is not None)
    joints = tuple(_joint(j, set(links), path) for j in root.findall("joint"))
    children = [j.child for j in joints]
    if len(set(children)) != len(children):
        raise SceneError(f"{path}: joint child", sorted({c for c in children if children.count(c) > 1})[0],
                         "a link has two parent joints")
    if len([link for link in links if link not in set(children)]) != 1:
        raise SceneError(path, None, "the links do not form one tree (exactly one link without a parent joint)")
    masses = {}
    for link in root.findall("link"):
        mass = link.find("inertial/mass")
        masses[link.get("name") or ""] = _floats(mass.get("value") if mass is not None else "0", 1,
                                                 f"link {link.get('name')!r} mass", path)[0]
    return Robot(path, root.get("name") or "", tuple(links), visuals, joints, masses)


def read_urdf(path: str | os.PathLike, where: str = "path") -> Robot:
    """The URDF at `path` (cached while the file is unchanged); a SceneError naming the file
    and the element for anything PyBullet could not load or we could not render."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SceneError(where, path, "URDF file not found")
    stat = os.stat(path)
    return _read(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
