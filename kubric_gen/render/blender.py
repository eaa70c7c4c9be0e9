"""Build a Blender scene from a kubric_gen `Scene` + `Trajectory` and render it with Cycles.

Imported only when rendering (it imports `bpy`). Every call starts from Blender's empty
factory state and goes back to it when done, so one process renders many scenes in a
row without carrying anything over. The scene is built once, object and camera poses
are keyframed for every frame, and the frames are rendered one by one in the same
session with Cycles' persistent data (only what moved is updated between frames).

Materials: Principled BSDF or an emission shader (`Flat`); a material `texture` is an Image
Texture node (bilinear, repeating) read through the mesh's UV map (one UV per face corner,
from `meshes.object_uv`) into Base Color or the emission colour. An `HdriBackground` is an
Environment Texture (equirectangular) looked up with the ray direction rotated about Z. Each
image file is loaded once per render. Motion blur uses the longer of the scene's and the
settings' shutter, centred on the frame.

`render` writes RGBA frames (and, with `RenderSettings.intrinsics`, each frame's light passes,
read by `render.intrinsics`). `render.passes` reuses this module's scene building to read
Cycles' own Object Index and Depth passes (the check of the ray-cast ground truth).

Blender writes its log (CLOG) to the C-level stdout; it is captured around each Blender
call and forwarded to the "kubric_gen.render" logger (debug; errors as warnings).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import bpy
import imageio.v3 as iio
import numpy as np

from kubric_gen import geometry, meshes
from kubric_gen.errors import ConfigError
from kubric_gen.render import intrinsics
from kubric_gen.render.device import configure_device
from kubric_gen.render.settings import RenderResult, RenderSettings
from kubric_gen.scene import (
    AreaLight,
    ArticulatedObject,
    ColorBackground,
    Flat,
    HdriBackground,
    Light,
    Material,
    PointLight,
    Principled,
    Scene,
    SkyBackground,
    SpotLight,
    SunLight,
)
from kubric_gen.simulation.parts import Part, part_poses, part_vertices, scene_parts
from kubric_gen.simulation.trajectory import Trajectory, camera_pose

logger = logging.getLogger("kubric_gen.render")

SHARP_ANGLE = math.radians(30.0)  # edges sharper than this stay sharp under smooth shading
CLIP_START, CLIP_END = 0.01, 10000.0
_LINEAR = 1  # the enum value of 'LINEAR' in Keyframe.interpolation
TEXTURE_INTERPOLATION = "Linear"  # bilinear texel lookup (Blender's default for Image Texture nodes)
_LOCK = threading.Lock()  # Blender has one global state: one render at a time per process


# ---------------------------------------------------------------- Blender's stdout
def _flush_c_stdout() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def blender_log() -> Iterator[None]:
    """Capture what Blender prints to fd 1 during the block and log it."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 (embedded interpreter): let Blender print
        saved = -1
    if saved < 0:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            _flush_c_stdout()
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                if line.strip():
                    level = logging.WARNING if "ERROR" in line or "Error:" in line else logging.DEBUG
                    logger.log(level, "blender: %s", line.rstrip())


# ---------------------------------------------------------------- argument checks
def check_frames(scene: Scene, frames: Sequence[int] | None) -> list[int]:
    if frames is None:
        return list(range(scene.num_frames))
    try:
        given_list = list(frames)
        out = [int(f) for f in given_list]
    except (TypeError, ValueError):
        raise ConfigError(f"frames: expected a list of frame numbers (got {frames!r})") from None
    for f, given in zip(out, given_list, strict=True):
        if isinstance(given, bool) or f != given or not 0 <= f < scene.num_frames:
            raise ConfigError(f"frames: frame numbers must be integers in [0, {scene.num_frames}) (got {given!r})")
    return out


@dataclass(frozen=True)
class PartMotion:
    """The scene's parts with their positions (P, T+2, 3) and quaternions (P, T+2, 4) at frames
    -1..T, and the world vertices (T+2, V, 3) of those that deform (by part index)."""

    parts: list[Part]
    positions: np.ndarray
    quaternions: np.ndarray
    vertices: dict[int, np.ndarray]


def check_trajectory(scene: Scene, trajectory: Trajectory) -> PartMotion:
    """The parts' motion at frames -1..T, after checking the trajectory against the scene."""
    names = [o.name for o in scene.objects]
    if list(trajectory.names) != names:
        raise ConfigError(f"trajectory.names: must list the scene's objects in order {names} "
                          f"(got {list(trajectory.names)})")
    n, t = len(names), scene.num_frames
    pos = np.asarray(trajectory.positions, dtype=np.float64)
    quat = np.asarray(trajectory.quaternions, dtype=np.float64)
    if pos.shape != (n, t, 3):
        raise ConfigError(f"trajectory.positions: expected shape {(n, t, 3)} (got {pos.shape})")
    if quat.shape != (n, t, 4):
        raise ConfigError(f"trajectory.quaternions: expected shape {(n, t, 4)} (got {quat.shape})")
    if not (np.isfinite(pos).all() and np.isfinite(quat).all()):
        raise ConfigError("trajectory: poses must be finite (got NaN or inf)")
    norms = np.linalg.norm(quat, axis=-1)
    if (norms < 1e-9).any():
        raise ConfigError("trajectory.quaternions: must not be zero (got a zero quaternion)")
    parts = scene_parts(scene)
    poses = [part_poses(scene, trajectory, parts, f) for f in range(-1, t + 1)]  # -1 and T: for motion blur
    pos = np.stack([p for p, _ in poses], axis=1)
    quat = np.stack([q for _, q in poses], axis=1)
    if not (np.isfinite(pos).all() and np.isfinite(quat).all()):
        raise ConfigError("trajectory.links: poses must be finite (got NaN or inf)")
    frames = [part_vertices(scene, trajectory, parts, f) for f in range(-1, t + 1)]
    vertices = {k: np.stack([v[k] for v in frames]) for k in frames[0]}
    for k, v in vertices.items():
        if v.shape[1:] != parts[k].mesh.vertices.shape or not np.isfinite(v).all():
            raise ConfigError(f"trajectory.deformations[{parts[k].name!r}]: expected finite vertices of shape "
                              f"{parts[k].mesh.vertices.shape} per frame (got {v.shape[1:]})")
    return PartMotion(parts, pos, geometry.quat_normalize(quat), vertices)


def check_textures(scene: Scene) -> None:
    """A textured material needs a mesh with UV coordinates."""
    for i, obj in enumerate(scene.objects):
        texture = getattr(obj.material, "texture", None)
        if texture is not None and isinstance(obj, ArticulatedObject):
            raise ConfigError(f"Scene.objects[{i}] ({obj.name!r}).material.texture: an articulated object's "
                              f"links have no UV coordinates (got texture {texture!r})")
        if texture is not None and meshes.object_uv(obj) is None:
            what = f"mesh {obj.path}" if hasattr(obj, "path") else f"the {obj.kind} primitive"
            raise ConfigError(f"Scene.objects[{i}] ({obj.name!r}).material.texture: needs UV coordinates, "
                              f"but {what} has none (got texture {texture!r})")


# ---------------------------------------------------------------- scene setup
def _reset() -> None:
    """Back to Blender's empty factory state (frees the previous scene and Cycles data)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)


def configure_frame(bscene: bpy.types.Scene, scene: Scene) -> bpy.types.RenderSettings:
    """Resolution, frame range and persistent data, shared by `render` and `render_passes`."""
    r = bscene.render
    r.engine = "CYCLES"
    r.resolution_x, r.resolution_y = scene.resolution
    r.resolution_percentage = 100
    r.pixel_aspect_x = r.pixel_aspect_y = 1.0
    r.fps, r.fps_base = scene.frame_rate, 1.0
    bscene.frame_start, bscene.frame_end = 0, scene.num_frames - 1
    r.film_transparent = False
    r.use_persistent_data = True
    return r


def _configure(bscene: bpy.types.Scene, scene: Scene, settings: RenderSettings, gpu: bool) -> None:
    r = configure_frame(bscene, scene)
    r.dither_intensity = 0.0  # no noise added when quantizing to 8 bits
    r.use_compositing = False
    r.use_sequencer = False
    if settings.threads > 0:
        r.threads_mode, r.threads = "FIXED", settings.threads
    else:
        r.threads_mode = "AUTO"
    shutter = max(scene.motion_blur, settings.motion_blur)  # in frames; 0 = sharp
    r.use_motion_blur = shutter > 0
    if shutter > 0:
        r.motion_blur_shutter = shutter
        r.motion_blur_position = "CENTER"
    img = r.image_settings
    img.file_format, img.color_mode, img.color_depth, img.compression = "PNG", "RGBA", "8", 0

    c = bscene.cycles
    c.samples = settings.samples
    c.use_adaptive_sampling = settings.adaptive_threshold > 0
    if settings.adaptive_threshold > 0:
        c.adaptive_threshold = settings.adaptive_threshold
        c.adaptive_min_samples = settings.adaptive_min_samples
    c.use_light_tree = _light_tree(scene, settings)
    c.use_denoising = settings.denoise
    c.denoiser = "OPENIMAGEDENOISE"
    c.denoising_use_gpu = gpu
    c.seed, c.use_animated_seed = 0, False

    v = bscene.view_settings
    bscene.display_settings.display_device = "sRGB"
    v.view_transform, v.look, v.exposure, v.gamma = settings.view_transform, "None", 0.0, 1.0
    if settings.intrinsics:
        intrinsics.enable_passes(bscene.view_layers[0])


def _light_tree(scene: Scene, settings: RenderSettings) -> bool:
    """Whether Cycles' light tree is on: "auto" turns it on for more than 8 emitters (lights
    and emitting objects). With a few it only costs: a quarter of the render time for MOVi-A's
    4 lights and for MOVi-C's emitting HDRI dome, for 0.1-0.25 dB (benchmarks/README.md)."""
    if settings.light_tree != "auto":
        return settings.light_tree == "on"
    emitting = sum(isinstance(o.material, Flat) or (isinstance(o.material, Principled)
                                                   and o.material.emission_strength > 0)
                   for o in scene.objects if getattr(o, "material", None) is not None)
    return emitting + len(scene.lights) > 8


def _new_mesh(key: str, part: Part) -> bpy.types.Mesh:
    tm = part.mesh
    verts = np.ascontiguousarray(tm.vertices, dtype=np.float32)
    faces = np.ascontiguousarray(tm.faces, dtype=np.int32)
    me = bpy.data.meshes.new(key)
    me.vertices.add(len(verts))
    me.loops.add(faces.size)
    me.polygons.add(len(faces))
    me.vertices.foreach_set("co", verts.ravel())
    me.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    me.loops.foreach_set("vertex_index", faces.ravel())
    uv = part.uv
    if uv is not None:  # one UV per face corner, set before `validate` so dropped faces take theirs along
        layer = me.uv_layers.new(name="UVMap")
        layer.uv.foreach_set("vector", np.ascontiguousarray(uv[faces], dtype=np.float32).ravel())
    me.update(calc_edges=True)
    me.validate(verbose=False, clean_customdata=False)  # drops only invalid (zero-area) faces
    # Smooth shading except across edges sharper than SHARP_ANGLE: shading normals only,
    # the triangles stay exactly those of `meshes.object_mesh` (the ground truth's).
    me.set_sharp_from_angle(angle=SHARP_ANGLE)
    me.materials.append(None)  # one slot, filled per object (objects share meshes)
    return me


def _image(path: str, images: dict[str, bpy.types.Image]) -> bpy.types.Image:
    """The Blender image of a file, loaded once per render. Colour space as Blender picks it
    from the format: PNG/JPG (8 or 16 bits) sRGB, .hdr/.exr linear."""
    key = os.path.abspath(path)
    if key not in images:
        try:
            image = bpy.data.images.load(key, check_existing=False)
            image.update()  # reads the pixels now: an unreadable file fails here, not as a pink render
        except RuntimeError as e:
            raise ConfigError(f"{path}: Blender cannot read the image ({e})") from None
        if image.size[0] == 0 or image.size[1] == 0:
            raise ConfigError(f"{path}: Blender cannot read the image (no pixels)")
        if not image.is_float:
            image.colorspace_settings.name = "sRGB"
        images[key] = image
    return images[key]


def _texture_node(nodes, path: str, images: dict[str, bpy.types.Image]) -> bpy.types.Node:
    """An Image Texture node reading `path` through the mesh's (active) UV map."""
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = _image(path, images)
    tex.interpolation = TEXTURE_INTERPOLATION
    tex.extension = "REPEAT"
    return tex


def _new_material(material: Material, name: str, images: dict[str, bpy.types.Image]) -> bpy.types.Material:
    m = bpy.data.materials.new(name)
    nodes, links = m.node_tree.nodes, m.node_tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    if isinstance(material, Principled):
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        inputs = bsdf.inputs
        inputs["Base Color"].default_value = (*material.color, 1.0)
        if material.texture is not None:
            links.new(_texture_node(nodes, material.texture, images).outputs["Color"], inputs["Base Color"])
        inputs["Metallic"].default_value = material.metallic
        inputs["Roughness"].default_value = material.roughness
        inputs["IOR"].default_value = material.ior
        inputs["Specular IOR Level"].default_value = material.specular
        inputs["Transmission Weight"].default_value = material.transmission
        inputs["Emission Color"].default_value = (*material.emission, 1.0)
        inputs["Emission Strength"].default_value = material.emission_strength
        links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
        m.diffuse_color = (*material.color, 1.0)
    elif isinstance(material, Flat):
        emit = nodes.new("ShaderNodeEmission")
        emit.inputs["Color"].default_value = (*material.color, 1.0)
        if material.texture is not None:
            links.new(_texture_node(nodes, material.texture, images).outputs["Color"], emit.inputs["Color"])
        emit.inputs["Strength"].default_value = material.strength
        links.new(emit.outputs["Emission"], out.inputs["Surface"])
        m.diffuse_color = (*material.color, 1.0)
    else:  # pragma: no cover - guarded by scene validation
        raise ConfigError(f"material: unsupported material type {type(material).__name__}")
    return m


def _new_light(light: Light) -> bpy.types.Object:
    if isinstance(light, SunLight):
        data = bpy.data.lights.new(light.name, "SUN")
        data.energy, data.angle = light.strength, light.angle
    elif isinstance(light, PointLight):
        data = bpy.data.lights.new(light.name, "POINT")
        data.energy, data.shadow_soft_size = light.power, light.radius
    elif isinstance(light, AreaLight):
        data = bpy.data.lights.new(light.name, "AREA")
        data.shape, data.size, data.energy = "SQUARE", light.size, light.power
    elif isinstance(light, SpotLight):
        data = bpy.data.lights.new(light.name, "SPOT")
        data.energy, data.shadow_soft_size = light.power, light.radius
        data.spot_size, data.spot_blend = light.spot_size, light.blend
    else:  # pragma: no cover - guarded by scene validation
        raise ConfigError(f"lights: unsupported light type {type(light).__name__}")
    data.color = light.color
    obj = bpy.data.objects.new(light.name, data)
    obj.location = light.position
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = light.quaternion
    return obj


def _new_world(scene: Scene, images: dict[str, bpy.types.Image]) -> bpy.types.World:
    world = bpy.data.worlds.new("world")
    nodes, links = world.node_tree.nodes, world.node_tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputWorld")
    bg = nodes.new("ShaderNodeBackground")
    links.new(bg.outputs["Background"], out.inputs["Surface"])
    background = scene.background
    if isinstance(background, ColorBackground):
        bg.inputs["Color"].default_value = (*background.color, 1.0)
        bg.inputs["Strength"].default_value = background.strength
    elif isinstance(background, SkyBackground):
        sky = nodes.new("ShaderNodeTexSky")
        kinds = {e.identifier for e in sky.bl_rna.properties["sky_type"].enum_items}
        # Blender 5 renamed Nishita to SINGLE_SCATTERING and added MULTIPLE_SCATTERING (its default).
        sky.sky_type = next(k for k in ("MULTIPLE_SCATTERING", "NISHITA", "SINGLE_SCATTERING") if k in kinds)
        sky.sun_elevation = background.sun_elevation
        sky.sun_rotation = background.sun_rotation
        links.new(sky.outputs["Color"], bg.inputs["Color"])
        bg.inputs["Strength"].default_value = background.strength
    elif isinstance(background, HdriBackground):
        # The world's Generated coordinate is the ray direction. A TEXTURE-type Mapping applies the
        # inverse rotation to it, so what the unrotated image shows in direction d is seen in
        # direction Rz(rotation) d: the environment turns by +rotation (counter-clockwise from above).
        coords = nodes.new("ShaderNodeTexCoord")
        mapping = nodes.new("ShaderNodeMapping")
        mapping.vector_type = "TEXTURE"
        mapping.inputs["Rotation"].default_value = (0.0, 0.0, background.rotation)
        env = nodes.new("ShaderNodeTexEnvironment")
        env.projection = "EQUIRECTANGULAR"
        env.interpolation = "Linear"
        env.image = _image(background.path, images)
        links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
        links.new(mapping.outputs["Vector"], env.inputs["Vector"])
        links.new(env.outputs["Color"], bg.inputs["Color"])
        bg.inputs["Strength"].default_value = background.strength
    else:  # pragma: no cover - guarded by scene validation
        raise ConfigError(f"background: unsupported type {type(background).__name__}")
    if not background.visible_to_camera:  # camera rays see black, every other ray the background
        path = nodes.new("ShaderNodeLightPath")
        black = nodes.new("ShaderNodeBackground")
        black.inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)
        mix = nodes.new("ShaderNodeMixShader")
        links.new(path.outputs["Is Camera Ray"], mix.inputs["Fac"])
        links.new(bg.outputs["Background"], mix.inputs[1])
        links.new(black.outputs["Background"], mix.inputs[2])
        links.new(mix.outputs["Shader"], out.inputs["Surface"])
    return world


def _continuous(quats: np.ndarray) -> np.ndarray:
    """Flip signs so consecutive quaternions are in the same hemisphere (q and -q are
    the same rotation; this keeps sub-frame interpolation for motion blur short)."""
    q = np.array(quats, dtype=np.float64)
    for t in range(1, len(q)):
        if np.dot(q[t], q[t - 1]) < 0:
            q[t] = -q[t]
    return q


def _pose(obj: bpy.types.Object, positions: np.ndarray, quats: np.ndarray) -> None:
    """Pose `obj` at frames -1..T (arrays of T+2): a constant pose is set directly, a
    changing one keyframed (linear between frames, which only matters for motion blur;
    the frames before the first and after the last let the shutter of the first and last
    frames see motion too)."""
    obj.rotation_mode = "QUATERNION"
    obj.location = positions[1]
    obj.rotation_quaternion = quats[1]
    if np.array_equal(positions, positions[:1].repeat(len(positions), 0)) and \
            np.array_equal(quats, quats[:1].repeat(len(quats), 0)):
        return
    quats = _continuous(quats)
    action = bpy.data.actions.new(obj.name)
    slot = action.slots.new(id_type="OBJECT", name=obj.name)
    bag = action.layers.new("poses").strips.new(type="KEYFRAME").channelbag(slot, ensure=True)
    frames = np.arange(-1, len(positions) - 1, dtype=np.float64)
    interpolation = np.full(len(frames), _LINEAR, dtype=np.int32)
    for path, values in (("location", positions), ("rotation_quaternion", quats)):
        for k in range(values.shape[1]):
            fc = bag.fcurves.new(path, index=k)
            fc.keyframe_points.add(len(frames))
            fc.keyframe_points.foreach_set("co", np.stack([frames, values[:, k]], 1).astype(np.float32).ravel())
            fc.keyframe_points.foreach_set("interpolation", interpolation)
            fc.update()
    anim = obj.animation_data_create()
    anim.action = action
    anim.action_slot = slot


def _deform(obj: bpy.types.Object, vertices: np.ndarray) -> None:
    """Give a mesh object one shape key per frame -1..T (vertices (T+2, V, 3)), each fully on at its
    frame and off at the neighbouring ones (linear in between, for motion blur): at frame f the
    mesh is exactly that frame's vertices (to float32)."""
    obj.shape_key_add(name="Basis", from_mix=False).data.foreach_set("co", vertices[1].astype(np.float32).ravel())
    shape_keys = obj.data.shape_keys
    shape_keys.use_relative = True
    action = bpy.data.actions.new(f"{obj.name}_deformation")
    slot = action.slots.new(id_type="KEY", name=shape_keys.name)
    bag = action.layers.new("frames").strips.new(type="KEYFRAME").channelbag(slot, ensure=True)
    for k, points in enumerate(vertices):
        frame = k - 1
        block = obj.shape_key_add(name=f"frame_{frame}", from_mix=False)
        block.slider_min, block.slider_max = 0.0, 1.0
        block.data.foreach_set("co", points.astype(np.float32).ravel())
        block.value = 1.0 if frame == 0 else 0.0
        keys = [(f, 1.0 if f == frame else 0.0) for f in (frame - 1, frame, frame + 1)]
        fc = bag.fcurves.new(f'key_blocks["{block.name}"].value')
        fc.keyframe_points.add(len(keys))
        fc.keyframe_points.foreach_set("co", np.asarray(keys, dtype=np.float32).ravel())
        fc.keyframe_points.foreach_set("interpolation", np.full(len(keys), _LINEAR, dtype=np.int32))
        fc.update()
    anim = shape_keys.animation_data_create()
    anim.action = action
    anim.action_slot = slot


def build(bscene: bpy.types.Scene, scene: Scene, motion: PartMotion, shading: bool = True) -> None:
    """The objects' parts (each with `pass_index` = its object's scene index + 1) posed and deformed
    as `motion` says at frames -1..T, camera and, if `shading`, lights and world."""
    parts, positions, quaternions = motion.parts, motion.positions, motion.quaternions
    collection = bscene.collection
    bmeshes: dict[str, bpy.types.Mesh] = {}
    bmaterials: dict[Material, bpy.types.Material] = {}
    images: dict[str, bpy.types.Image] = {}
    for k, part in enumerate(parts):
        obj = scene.objects[part.object]
        if part.key not in bmeshes:
            bmeshes[part.key] = _new_mesh(part.key, part)
        if part.material not in bmaterials:
            bmaterials[part.material] = _new_material(part.material, f"material_{len(bmaterials)}", images)
        bobj = bpy.data.objects.new(part.name, bmeshes[part.key])
        collection.objects.link(bobj)
        slot = bobj.material_slots[0]
        slot.link = "OBJECT"
        slot.material = bmaterials[part.material]
        bobj.scale = part.scale
        bobj.pass_index = part.object + 1  # the Object Index pass: 0 is "no object"
        # By default background objects (floor, dome) cast no shadows, so that a dome around the
        # scene does not shut out the sun and the sky; `casts_shadows` decides when set.
        bobj.visible_shadow = obj.casts_shadows if obj.casts_shadows is not None else not obj.is_background
        _pose(bobj, positions[k], quaternions[k])
        if k in motion.vertices:
            _deform(bobj, motion.vertices[k])

    for light in scene.lights if shading else ():
        collection.objects.link(_new_light(light))

    cam = scene.camera
    data = bpy.data.cameras.new(cam.name)
    data.type = "PERSP"
    data.lens_unit = "MILLIMETERS"
    data.lens = cam.focal_length
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = cam.sensor_width
    data.shift_x = data.shift_y = 0.0
    data.clip_start, data.clip_end = CLIP_START, CLIP_END
    data.dof.use_dof = False
    bcam = bpy.data.objects.new(cam.name, data)
    collection.objects.link(bcam)
    bscene.camera = bcam
    poses = [camera_pose(scene, f) for f in range(-1, scene.num_frames + 1)]
    _pose(bcam, np.array([p for p, _ in poses]), np.array([q for _, q in poses]))

    if shading:
        bscene.world = _new_world(scene, images)


# ---------------------------------------------------------------- rendering
@contextlib.contextmanager
def session() -> Iterator[bpy.types.Scene]:
    """Blender's scene from a fresh factory state, one user at a time, reset again afterwards
    (which frees the scene and Cycles' persistent data now, not at the next call)."""
    with _LOCK:
        try:
            with blender_log():
                _reset()
            yield bpy.context.scene
        finally:
            with blender_log():
                _reset()


def write_frame(bscene: bpy.types.Scene, frame: int, path: str) -> None:
    """Render `frame` and write it to `path` with the scene's output settings."""
    bscene.frame_set(frame)
    bscene.render.filepath = path
    with blender_log():
        status = bpy.ops.render.render(write_still=True)
    if "FINISHED" not in status or not os.path.isfile(path):
        raise RuntimeError(f"Blender did not render frame {frame} ({status}); see the kubric_gen.render log")


def _render_frame(bscene: bpy.types.Scene, frame: int, path: str, resolution: tuple[int, int]) -> np.ndarray:
    write_frame(bscene, frame, path)
    rgba = iio.imread(path)
    os.remove(path)
    width, height = resolution
    if rgba.shape != (height, width, 4) or rgba.dtype != np.uint8:
        raise RuntimeError(f"frame {frame}: Blender wrote a {rgba.shape} {rgba.dtype} image, "
                           f"expected ({height}, {width}, 4) uint8")
    return rgba


def render(scene: Scene, trajectory: Trajectory, settings: RenderSettings, frames: Sequence[int] | None = None,
           progress: Callable[[int], None] | None = None,
           save_blend: str | os.PathLike | None = None) -> RenderResult:
    """See `kubric_gen.render.render`."""
    if not isinstance(settings, RenderSettings):
        raise ConfigError(f"settings: expected RenderSettings (got {type(settings).__name__})")
    scene.validate()
    frame_list = check_frames(scene, frames)
    motion = check_trajectory(scene, trajectory)
    check_textures(scene)

    width, height = scene.resolution
    out = np.empty((len(frame_list), height, width, 4), dtype=np.uint8)
    t0 = time.perf_counter()
    with session() as bscene:
        with blender_log():
            device = configure_device(bscene, settings.device)
            _configure(bscene, scene, settings, gpu=device != "CPU")
            build(bscene, scene, motion)
        logger.info("rendering %d frame(s) of %dx%d, %d samples on %s", len(frame_list), width, height,
                    settings.samples, device)
        t1 = time.perf_counter()
        passes: dict[str, np.ndarray] | None = None
        with tempfile.TemporaryDirectory(prefix="kubric_gen_render_") as tmp:
            for i, frame in enumerate(frame_list):
                out[i] = _render_frame(bscene, frame, os.path.join(tmp, f"rgba_{frame:05d}.png"), scene.resolution)
                if settings.intrinsics:
                    frame_passes = _frame_intrinsics(bscene, os.path.join(tmp, f"passes_{frame:05d}.exr"),
                                                     (height, width))
                    if passes is None:
                        passes = {k: np.empty((len(frame_list), *v.shape), v.dtype) for k, v in frame_passes.items()}
                    for k, v in frame_passes.items():
                        passes[k][i] = v
                if progress is not None:
                    progress(frame)
        t2 = time.perf_counter()
        timings = {"build": t1 - t0, "render": t2 - t1}
        if save_blend is not None:  # after the frames, so that it cannot change what they show
            _save_blend(bscene, save_blend)
            timings["save_blend"] = time.perf_counter() - t2
    return RenderResult(rgba=out, device=device, timings=timings, frames=frame_list, intrinsics=passes)


def _frame_intrinsics(bscene: bpy.types.Scene, path: str,
                      shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The intrinsic images of the frame just rendered (`render.intrinsics`)."""
    with blender_log():
        intrinsics.save_passes(bscene, path)
    if not os.path.isfile(path):
        raise RuntimeError(f"Blender wrote no passes file {path}; see the kubric_gen.render log")
    try:
        return intrinsics.read_intrinsics(path, bscene.view_layers[0].name, shape)
    finally:
        os.remove(path)


def _save_blend(bscene: bpy.types.Scene, path: str | os.PathLike) -> None:
    """Save the built scene as a .blend file (zstd-compressed) at its first frame, keyframes
    kept, every image packed into the file (absolute paths kept as a record of the sources),
    so that it opens on its own in Blender anywhere. Raises OSError if Blender cannot write it."""
    path = os.path.abspath(os.fspath(path))
    bscene.frame_set(bscene.frame_start)
    bscene.render.filepath = "//render/"  # an animation rendered from the file goes beside it
    status: set[str] = set()
    with blender_log():
        try:
            for image in bpy.data.images:
                if image.source == "FILE" and image.packed_file is None:
                    image.pack()
            status = bpy.ops.wm.save_as_mainfile(filepath=path, copy=True, compress=True, relative_remap=False)
        except RuntimeError as e:
            raise OSError(f"{path}: Blender could not save the .blend file "
                          f"({str(e).strip().splitlines()[-1] if str(e).strip() else e!r})") from None
    if "FINISHED" not in status or not os.path.isfile(path):
        raise OSError(f"{path}: Blender could not save the .blend file ({status})")
