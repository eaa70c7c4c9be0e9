"""`Scene`: the container of a scene's components and settings, validated as a whole and
round-tripping through JSON."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kubric_gen.errors import SceneError
from kubric_gen.scene.articulated import ArticulatedObject
from kubric_gen.scene.backgrounds import Background, ColorBackground
from kubric_gen.scene.camera import PerspectiveCamera
from kubric_gen.scene.deformable import DeformableObject, check_attachments
from kubric_gen.scene.fields import Vec3, boolean, integer, json_object, number, vector
from kubric_gen.scene.lights import Light
from kubric_gen.scene.objects import SceneObject
from kubric_gen.scene.serialize import from_data, to_data

CAMERA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_CAMERAS = 64


@dataclass(kw_only=True)
class Scene:
    """One scene: what the world script returns and every later stage reads.

    Frame i is at time i / frame_rate; frame 0 shows the initial state.
    `motion_blur` is the camera shutter in frames (0 = sharp; rendering with motion
    blur). `num_tracks` is how many point tracks the world asks for (None = the
    command's default). Dynamic objects that interpenetrate others at frame 0 by more
    than `physics.INTERPENETRATION_TOLERANCE` are an error (the engine would eject them at
    speed) unless `allow_interpenetration`.

    `cameras` (optional) holds several named cameras of the one simulation (see
    `scene.rigs`); each is rendered with its own ground truth, and `camera` is then the
    first of them. Left empty, the scene has the one `camera` and its JSON no `cameras`.
    """

    resolution: tuple[int, int] = (256, 256)
    num_frames: int = 24
    frame_rate: int = 12
    step_rate: int = 240
    gravity: Vec3 = (0.0, 0.0, -10.0)
    background: Background = field(default_factory=ColorBackground)
    camera: PerspectiveCamera = field(default_factory=PerspectiveCamera)
    cameras: list[PerspectiveCamera] = field(default_factory=list)
    lights: list[Light] = field(default_factory=list)
    objects: list[SceneObject] = field(default_factory=list)
    motion_blur: float = 0.0
    num_tracks: int | None = None
    seed: int | None = None
    allow_interpenetration: bool = False
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # -- building
    def add(self, *items: SceneObject | Light) -> None:
        """Add objects or lights (names must be unique)."""
        for item in items:
            if isinstance(item, SceneObject):
                self.objects.append(item)
            elif isinstance(item, Light):
                self.lights.append(item)
            else:
                raise SceneError("Scene.add", item, "expected a scene object or a light")
            try:
                self.validate()
            except SceneError:
                (self.objects if isinstance(item, SceneObject) else self.lights).pop()
                raise

    def __iadd__(self, items: SceneObject | Light | list[SceneObject | Light]) -> Scene:
        """`scene += obj` or `scene += [a, b]` (a list or tuple): the same as `scene.add`."""
        self.add(*(items if isinstance(items, (list, tuple)) else [items]))
        return self

    def object(self, name: str) -> SceneObject:
        for obj in self.objects:
            if obj.name == name:
                return obj
        raise SceneError("Scene.objects", name, "no object of that name")

    def update(self, name: str, /, **changes: Any) -> SceneObject | Light:
        """Change fields of the object (or light) `name`, e.g. `scene.update("ball", velocity=(1, 0, 0))`.

        Objects are frozen: this swaps in a copy with `changes` (`dataclasses.replace`), which
        is validated, and returns it; objects held elsewhere keep their old values. An unknown
        field is an error naming it, and so is a new `name` (a scene's names identify its
        objects from the world script to the dataset: add a new object instead).
        """
        where = [(group, i) for group in ("objects", "lights") for i, item in enumerate(getattr(self, group))
                 if item.name == name]
        if not where:
            raise SceneError("Scene.update", name, "no object or light of that name")
        group, i = where[0]
        old = getattr(self, group)[i]
        owner = f"{type(old).__name__}({name!r})"
        known = inspect.signature(type(old)).parameters
        for key, value in changes.items():
            if key not in known:
                raise SceneError(f"{owner}.{key}", value, f"unknown field (known: {', '.join(known)})")
        if changes.get("name", name) != name:
            raise SceneError(f"{owner}.name", changes["name"], "update keeps the name (add a new object instead)")
        getattr(self, group)[i] = new = dataclasses.replace(old, **changes)
        try:
            self.validate()
        except SceneError:
            getattr(self, group)[i] = old  # (validate swaps the lists for copies: look it up again)
            raise
        return new

    def replace_object(self, new: SceneObject) -> None:
        """Swap the object with the same name for `new` (see also `update`)."""
        for i, obj in enumerate(self.objects):
            if obj.name == new.name:
                self.objects[i] = new
                return
        raise SceneError("Scene.objects", new.name, "no object of that name")

    @property
    def steps_per_frame(self) -> int:
        return self.step_rate // self.frame_rate

    @property
    def views(self) -> list[PerspectiveCamera]:
        """The cameras this scene is rendered from: `cameras`, or the one `camera`."""
        return list(self.cameras) or [self.camera]

    @property
    def is_multiview(self) -> bool:
        return len(self.cameras) > 0

    def view(self, name: str) -> Scene:
        """The scene as seen by camera `name` alone: a one-camera copy (sharing the objects,
        which are frozen) that every single-camera stage takes as it is."""
        for cam in self.views:
            if cam.name == name:
                return dataclasses.replace(self, camera=cam, cameras=[])
        have = ", ".join(c.name for c in self.views)
        raise SceneError("Scene.cameras", name, f"no camera of that name (have: {have})")

    # -- validation
    def validate(self) -> Scene:
        """Check the whole scene; raise SceneError naming the first bad field."""
        res = self.resolution
        if (not isinstance(res, (tuple, list)) or len(res) != 2
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in res)):
            raise SceneError("Scene.resolution", res, "expected (width, height) integers")
        if res[0] <= 0 or res[1] <= 0:
            raise SceneError("Scene.resolution", tuple(res), "width and height must be > 0")
        self.resolution = (int(res[0]), int(res[1]))
        self.num_frames = integer("Scene", "num_frames", self.num_frames, 1)
        self.frame_rate = integer("Scene", "frame_rate", self.frame_rate, 1)
        self.step_rate = integer("Scene", "step_rate", self.step_rate, 1)
        if self.step_rate % self.frame_rate:
            raise SceneError("Scene.step_rate", self.step_rate,
                             f"must be a multiple of frame_rate ({self.frame_rate})")
        # 3 floats (vector checks the length): mypy cannot tie the tuple's length to `size`
        self.gravity = vector("Scene", "gravity", self.gravity, 3)  # type: ignore[assignment]
        if self.seed is not None:
            self.seed = integer("Scene", "seed", self.seed, 0)
        self.motion_blur = number("Scene", "motion_blur", self.motion_blur, 0.0, 1.0)
        self.allow_interpenetration = boolean("Scene", "allow_interpenetration", self.allow_interpenetration)
        if self.num_tracks is not None:
            self.num_tracks = integer("Scene", "num_tracks", self.num_tracks, 0)
        self.metadata = json_object("Scene", "metadata", self.metadata)
        if not isinstance(self.background, Background):
            raise SceneError("Scene.background", self.background,
                             "expected ColorBackground, SkyBackground or HdriBackground")
        if not isinstance(self.camera, PerspectiveCamera):
            raise SceneError("Scene.camera", self.camera, "expected a PerspectiveCamera")
        self._validate_cameras()
        self.objects = list(self.objects)
        self.lights = list(self.lights)
        seen: set[str] = set()
        for group, items, base in (("objects", self.objects, SceneObject), ("lights", self.lights, Light)):
            for i, item in enumerate(items):
                if not isinstance(item, base):
                    raise SceneError(f"Scene.{group}[{i}]", item, f"expected a {base.__name__}")
                if item.name in seen:
                    raise SceneError(f"Scene.{group}[{i}].name", item.name, "duplicate name")
                seen.add(item.name)
        paths: list[tuple[str, Any]] = [(f"{o.name}.keyframes", o.keyframes) for o in self.objects]
        paths += [(f"{o.name}.{name}", series) for o in self.objects if isinstance(o, (ArticulatedObject,
                                                                                          DeformableObject))
                  for name, series in o.series().items()]
        check_attachments(self.objects)
        cameras = [(f"cameras[{i}].path", c.path) for i, c in enumerate(self.cameras)]
        paths += cameras or [("camera.path", self.camera.path)]
        for label, poses in paths:
            if poses is not None and len(poses) != self.num_frames:
                raise SceneError(f"Scene.{label}", len(poses), f"needs one pose per frame ({self.num_frames})")
        return self

    def _validate_cameras(self) -> None:
        if not isinstance(self.cameras, (list, tuple)):
            raise SceneError("Scene.cameras", self.cameras, "expected a list of PerspectiveCameras")
        self.cameras = list(self.cameras)
        names: set[str] = set()
        for i, cam in enumerate(self.cameras):
            if not isinstance(cam, PerspectiveCamera):
                raise SceneError(f"Scene.cameras[{i}]", cam, "expected a PerspectiveCamera")
            if not CAMERA_NAME.match(cam.name):  # it names the view's directory
                raise SceneError(f"Scene.cameras[{i}].name", cam.name,
                                 "must be letters, digits, '-' or '_' (it names the view's directory)")
            if cam.name in names:
                raise SceneError(f"Scene.cameras[{i}].name", cam.name, "duplicate camera name")
            names.add(cam.name)
        if len(self.cameras) > MAX_CAMERAS:
            raise SceneError("Scene.cameras", len(self.cameras), f"at most {MAX_CAMERAS} cameras")
        if self.cameras:
            self.camera = self.cameras[0]  # the single-camera API sees the first camera

    # -- JSON
    def to_dict(self) -> dict:
        self.validate()
        data = to_data(self)
        if not self.cameras:  # a one-camera scene's JSON is what it was before several cameras
            del data["cameras"]
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict) -> Scene:
        if not isinstance(data, dict):
            raise SceneError("Scene", data, "expected a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SceneError(f"Scene.{unknown[0]}", data[unknown[0]], "unknown field")
        kwargs = dict(data)
        if "resolution" in kwargs and isinstance(kwargs["resolution"], list):
            kwargs["resolution"] = tuple(kwargs["resolution"])
        if "background" in kwargs:
            kwargs["background"] = from_data(kwargs["background"], "Scene.background", (Background,))
        if "camera" in kwargs:
            kwargs["camera"] = from_data(kwargs["camera"], "Scene.camera", (PerspectiveCamera,))
        if "cameras" in kwargs:
            if not isinstance(kwargs["cameras"], list):
                raise SceneError("Scene.cameras", kwargs["cameras"], "expected a list")
            kwargs["cameras"] = [from_data(c, f"Scene.cameras[{i}]", (PerspectiveCamera,))
                                 for i, c in enumerate(kwargs["cameras"])]
        for group, base in (("objects", SceneObject), ("lights", Light)):
            items = kwargs.get(group, [])
            if not isinstance(items, list):
                raise SceneError(f"Scene.{group}", items, "expected a list")
            kwargs[group] = [from_data(o, f"Scene.{group}[{i}]", (base,)) for i, o in enumerate(items)]
        try:
            return cls(**kwargs)
        except SceneError:
            raise
        except (TypeError, ValueError, OverflowError, AttributeError, KeyError, IndexError) as e:
            raise SceneError("Scene", "...", f"malformed ({type(e).__name__}: {e})") from None

    @classmethod
    def from_json(cls, text: str) -> Scene:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SceneError("Scene", text[:40], f"not valid JSON: {e}") from None
        return cls.from_dict(data)
