"""Physics with PyBullet: simulate a scene, settle objects, place without overlap.

A scene with a dynamic deformable object is simulated in PyBullet's deformable world
(`deformation.py`), every other scene in the rigid-body world as before.

Every simulation owns its own PyBullet client in DIRECT mode, so simulations in one
process never interfere. PyBullet's (x, y, z, w) quaternions are converted in
simulation/ only (`articulation.xyzw`, `articulation.wxyz`).

Integration: Bullet uses symplectic Euler (v += a dt, then x += v dt). Dynamic
objects start with their velocity shifted back by half a step of gravity
(v0 - g dt/2), which turns that scheme into leapfrog: ballistic flight is then
exact to rounding instead of being off by g t dt / 2 (2 cm after 1 s at 240 Hz).
The reported velocities are Bullet's, i.e. half a step behind during free flight.

Friction and restitution of a contact are the products of the two objects' values
(Bullet's rule).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from types import ModuleType

import numpy as np

from kubric_gen import geometry, meshes
from kubric_gen.cache import cache_dir
from kubric_gen.errors import AssetError, PlacementError, SceneError
from kubric_gen.scene import ArticulatedObject, Cube, Cylinder, DeformableObject, MeshObject, Scene, SceneObject, Sphere
from kubric_gen.simulation import articulation, deformation
from kubric_gen.simulation.trajectory import (
    Collision,
    DeformStates,
    LinkStates,
    Trajectory,
    deformation_poses,
    scripted_deformation,
)

log = logging.getLogger(__name__)

CONTACT_DISTANCE = 1e-4  # a pair closer than this (m) counts as touching
INTERPENETRATION_TOLERANCE = 2e-3  # m: deeper overlaps of a dynamic object at frame 0 are an error
VHACD_RESOLUTION = 100_000  # voxels; VHACD's own default (PyBullet's wrapper uses 1e6: 10x slower)


@contextlib.contextmanager
def _silenced_fds() -> Iterator[None]:
    """Send what C code prints to fds 1 and 2 to /dev/null (pybullet's banner, VHACD's log)."""
    import ctypes
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                ctypes.CDLL(None).fflush(None)  # C's stdio buffers still hold output
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _pybullet() -> ModuleType:
    """Import pybullet without its build banner (it would clutter CLI output)."""
    import sys

    if "pybullet" not in sys.modules:
        with _silenced_fds():
            import pybullet  # noqa: F401
    return sys.modules["pybullet"]


# A pose component as PyBullet and numpy both give it: a sequence of floats or an array.
Vector = Sequence[float] | np.ndarray


def _com_offset(obj: SceneObject) -> np.ndarray:
    """Scaled local centre of mass: where the PyBullet body frame sits inside the object."""
    return meshes.mass_properties(obj)[1] * np.asarray(obj.scale)


def vhacd_file(obj: MeshObject) -> str:
    """PyBullet's VHACD convex decomposition of a mesh, cached by file content."""
    with open(obj.path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:20]
    directory = os.path.join(cache_dir(), "vhacd")
    target = os.path.join(directory, f"{digest}-{VHACD_RESOLUTION}.obj")
    if not os.path.exists(target):
        p = _pybullet()
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            source = os.path.join(tmp, "in.obj")
            meshes.object_mesh(obj).export(source)
            out = os.path.join(tmp, "out.obj")
            with _silenced_fds():
                p.vhacd(source, out, os.path.join(tmp, "log.txt"), resolution=VHACD_RESOLUTION)
            if not os.path.exists(out):
                raise AssetError(f"{obj.path}: VHACD convex decomposition failed (see {directory})")
            os.replace(out, target)  # atomic: concurrent workers never see half a file
    return target


NO_BODY = -1  # the body "id" of a scripted deformable: it is not in the physics world


def _simulated_deformable(obj: SceneObject) -> bool:
    return isinstance(obj, DeformableObject) and obj.motion == "dynamic"


class _World:
    """A PyBullet client holding one body per scene object."""

    def __init__(self, scene: Scene, objects: Sequence[SceneObject] | None = None, stand_ins: bool = False) -> None:
        self.p = _pybullet()
        self.client = self.p.connect(self.p.DIRECT)
        self.scene = scene
        self.dt = 1.0 / scene.step_rate
        self.objects = list(scene.objects if objects is None else objects)
        self.soft: dict[int, int] = {}  # object index -> soft body of a simulated deformable
        self.folder: tempfile.TemporaryDirectory | None = None  # their OBJ files, made with the first
        self.stand_ins = stand_ins  # deformables as rigid bodies of their rest shape's convex hull (placement)
        if not stand_ins and any(_simulated_deformable(o) for o in self.objects):
            deformation.start(self.p, self.client)
        self.p.setGravity(*scene.gravity, physicsClientId=self.client)
        self.p.setPhysicsEngineParameter(fixedTimeStep=self.dt, deterministicOverlappingPairs=1,
                                         physicsClientId=self.client)
        self.bodies: list[int] = []
        self.offsets: list[np.ndarray] = []
        self.articulated: dict[int, articulation.Body] = {}  # object index -> its links and joints
        for obj in self.objects:
            self.add(obj)
        names = {o.name: body for o, body in zip(self.objects, self.bodies, strict=True)}
        for i, body in self.soft.items():
            obj = self.objects[i]
            assert isinstance(obj, DeformableObject)
            deformation.anchor(self.p, self.client, body, obj, names)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.p.disconnect(physicsClientId=self.client)
        if self.folder is not None:
            self.folder.cleanup()

    def rigid(self, i: int) -> bool:
        """Whether object i is a rigid or articulated body of this world (not a deformable)."""
        return self.stand_ins or not isinstance(self.objects[i], DeformableObject)

    # -- bodies
    def _shape(self, obj: SceneObject, offset: np.ndarray) -> int:
        p, c = self.p, self.client
        sx, sy, sz = obj.scale
        frame = list(-offset)
        if isinstance(obj, Cube):
            return p.createCollisionShape(p.GEOM_BOX, halfExtents=[sx, sy, sz], physicsClientId=c)
        if isinstance(obj, Sphere) and sx == sy == sz:
            return p.createCollisionShape(p.GEOM_SPHERE, radius=sx, physicsClientId=c)
        if isinstance(obj, Cylinder) and sx == sy:
            return p.createCollisionShape(p.GEOM_CYLINDER, radius=sx, height=2 * sz, physicsClientId=c)
        mesh = meshes.object_mesh(obj)
        if isinstance(obj, MeshObject) and obj.collision != "mesh" and (obj.collision_path or obj.collision == "vhacd"):
            parts = obj.collision_path or vhacd_file(obj)  # an OBJ of convex parts becomes a compound shape
            return p.createCollisionShape(p.GEOM_MESH, fileName=parts, meshScale=list(obj.scale),
                                          collisionFramePosition=frame, physicsClientId=c)
        if isinstance(obj, MeshObject) and obj.collision == "mesh":
            return p.createCollisionShape(p.GEOM_MESH, vertices=mesh.vertices.tolist(),
                                          indices=mesh.faces.reshape(-1).tolist(), meshScale=list(obj.scale),
                                          collisionFramePosition=frame, physicsClientId=c)
        # convex hull (also non-uniformly scaled spheres and cylinders)
        return p.createCollisionShape(p.GEOM_MESH, vertices=mesh.convex_hull.vertices.tolist(),
                                      meshScale=list(obj.scale), collisionFramePosition=frame, physicsClientId=c)

    def add(self, obj: SceneObject) -> int:
        p, c = self.p, self.client
        if isinstance(obj, DeformableObject) and self.stand_ins:
            hull = obj.rest_mesh().convex_hull.vertices
            shape = p.createCollisionShape(p.GEOM_MESH, vertices=hull.tolist(), meshScale=list(obj.scale),
                                           physicsClientId=c)
            body = p.createMultiBody(baseMass=0.0, baseCollisionShapeIndex=shape, basePosition=list(obj.position),
                                     baseOrientation=articulation.xyzw(obj.quaternion), physicsClientId=c)
            self.bodies.append(body)
            self.offsets.append(np.zeros(3))
            return body
        if isinstance(obj, DeformableObject):  # a scripted one is no body: NO_BODY
            body = NO_BODY
            if _simulated_deformable(obj):  # leapfrog start, but anchored nodes keep their start velocity: none
                anchored = bool(obj.pinned or obj.attached)
                v0 = np.zeros(3) if anchored else \
                    np.asarray(obj.velocity) - 0.5 * self.dt * np.asarray(self.scene.gravity)
                self.folder = self.folder or tempfile.TemporaryDirectory(prefix="kubric_gen_soft_")
                body = deformation.load(p, c, obj, os.path.join(self.folder.name, f"{len(self.bodies)}.obj"), v0)
                self.soft[len(self.bodies)] = body
            self.bodies.append(body)
            self.offsets.append(np.zeros(3))
            return body
        if isinstance(obj, ArticulatedObject):
            with _silenced_fds():  # PyBullet's URDF importer prints warnings (e.g. a joint without an axis)
                body = articulation.load(p, c, obj)
            self.articulated[len(self.bodies)] = body
            self.bodies.append(body.id)
            self.offsets.append(np.zeros(3))
            return body.id
        offset = _com_offset(obj)
        shape = self._shape(obj, offset)
        pose = obj.pose_at(0)
        body = p.createMultiBody(baseMass=meshes.object_mass(obj), baseCollisionShapeIndex=shape,
                                 basePosition=list(self._body_position(pose.position, pose.quaternion, offset)),
                                 baseOrientation=articulation.xyzw(pose.quaternion), physicsClientId=c)
        p.changeDynamics(body, -1, lateralFriction=obj.friction, restitution=obj.restitution,
                         linearDamping=0.0, angularDamping=0.0, physicsClientId=c)
        if obj.motion == "dynamic":
            v0 = np.asarray(obj.velocity) - 0.5 * self.dt * np.asarray(self.scene.gravity)  # leapfrog start
            p.resetBaseVelocity(body, list(v0), list(obj.angular_velocity), physicsClientId=c)
        self.bodies.append(body)
        self.offsets.append(offset)
        return body

    @staticmethod
    def _body_position(position: Vector, quaternion: Vector, offset: np.ndarray) -> np.ndarray:
        return np.asarray(position) + geometry.rotate(quaternion, offset)

    def set_pose(self, i: int, position: Vector, quaternion: Vector) -> None:
        if i in self.articulated:
            articulation.set_base(self.p, self.client, self.articulated[i], np.asarray(position),
                                  np.asarray(quaternion))
            return
        self.p.resetBasePositionAndOrientation(
            self.bodies[i], list(self._body_position(position, quaternion, self.offsets[i])),
            articulation.xyzw(quaternion), physicsClientId=self.client)

    def state(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Object-origin position, quaternion (wxyz), centre-of-mass velocity, angular velocity."""
        p, c, body = self.p, self.client, self.bodies[i]
        vel, ang = p.getBaseVelocity(body, physicsClientId=c)
        if i in self.articulated:  # the base link's frame; its centre of mass's velocity
            position, quaternion = articulation.base_pose(p, c, self.articulated[i])
            return position, quaternion, np.asarray(vel, dtype=np.float64), np.asarray(ang, dtype=np.float64)
        pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=c)
        q = articulation.wxyz(orn)
        arm = geometry.rotate(q, self.offsets[i])
        return np.asarray(pos) - arm, q, np.asarray(vel, dtype=np.float64), np.asarray(ang, dtype=np.float64)

    # -- contacts
    def touching(self) -> dict[tuple[int, int], list]:
        """Contact points per touching pair of object indices."""
        index = {b: i for i, b in enumerate(self.bodies)}
        pairs: dict[tuple[int, int], list] = {}
        for point in self.p.getContactPoints(physicsClientId=self.client):
            if point[8] > CONTACT_DISTANCE or point[1] == point[2] or point[1] not in index or point[2] not in index:
                continue  # apart, two links of one body, or a soft body's own contact
            pairs.setdefault((index[point[1]], index[point[2]]), []).append(point)
        return pairs

    def separate(self, movable: Sequence[int], tolerance: float = 1e-4, iterations: int = 50) -> None:
        """Move each of the `movable` bodies out of what it penetrates by more than
        `tolerance` (along the deepest contact's normal), until none does."""
        p, c = self.p, self.client
        for _ in range(iterations):
            p.performCollisionDetection(physicsClientId=c)
            moved = False
            for i in movable:
                body = self.bodies[i]
                deepest = None
                lo, hi = p.getAABB(body, physicsClientId=c)
                for other, _link in p.getOverlappingObjects(lo, hi, physicsClientId=c) or ():
                    if other == body:
                        continue
                    for point in p.getClosestPoints(body, other, distance=0.0, physicsClientId=c):
                        if point[8] < -tolerance and (deepest is None or point[8] < deepest[8]):
                            deepest = point
                if deepest is not None:  # the normal points from the other body towards this one
                    position, orientation = p.getBasePositionAndOrientation(body, physicsClientId=c)
                    lift = np.asarray(deepest[7]) * (-deepest[8] + tolerance / 2)
                    p.resetBasePositionAndOrientation(body, list(np.asarray(position) + lift), orientation,
                                                      physicsClientId=c)
                    moved = True
            if not moved:
                return

    def overlaps(self, i: int, margin: float = 0.0) -> bool:
        """Whether object i is closer than `margin` to any other object."""
        p, c = self.p, self.client
        p.performCollisionDetection(physicsClientId=c)
        lo, hi = p.getAABB(self.bodies[i], physicsClientId=c)
        lo, hi = np.asarray(lo) - margin, np.asarray(hi) + margin
        for body, _link in p.getOverlappingObjects(lo.tolist(), hi.tolist(), physicsClientId=c) or ():
            if body != self.bodies[i] and p.getClosestPoints(self.bodies[i], body, distance=margin,
                                                             physicsClientId=c):
                return True
        return False


@contextlib.contextmanager
def _world(scene: Scene, objects: Sequence[SceneObject] | None = None, stand_ins: bool = False) -> Iterator[_World]:
    world = _World(scene, objects, stand_ins)
    try:
        yield world
    finally:
        world.close()


def _keyframes(obj: SceneObject, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """A kinematic object's poses for frames 0..num_frames (the last extrapolated)."""
    assert obj.keyframes is not None  # SceneObject: a kinematic object has its keyframes
    pos = np.array([k.position for k in obj.keyframes], dtype=np.float64)
    quat = np.array([k.quaternion for k in obj.keyframes], dtype=np.float64)
    if len(pos) > 1:
        p, q = geometry.extrapolate_poses(pos[-2], quat[-2], pos[-1], quat[-1])
    else:
        p, q = pos[-1], quat[-1]
    return np.vstack([pos, p]), np.vstack([quat, q])


def _interpolate(keys: tuple[np.ndarray, np.ndarray], frame: float) -> tuple[np.ndarray, np.ndarray]:
    """Pose between keyframes (linear position, slerp rotation)."""
    positions, quaternions = keys
    lo = min(int(math.floor(frame)), len(positions) - 1)
    hi = min(lo + 1, len(positions) - 1)
    t = frame - lo
    position = (1 - t) * positions[lo] + t * positions[hi]
    return position, geometry.quat_slerp(quaternions[lo], quaternions[hi], t)


def _pose_before(obj: SceneObject, frame_time: float) -> tuple[np.ndarray, np.ndarray]:
    """Pose one frame before the start: constant (angular) velocity backwards for
    dynamic objects, extrapolated keyframes for kinematic ones."""
    if obj.motion == "kinematic":
        keys = obj.keyframes
        assert keys is not None  # SceneObject: a kinematic object has its keyframes
        if len(keys) < 2:
            return np.asarray(keys[0].position), np.asarray(keys[0].quaternion)
        return geometry.extrapolate_poses(keys[1].position, keys[1].quaternion, keys[0].position, keys[0].quaternion)
    if obj.motion == "static":
        return np.asarray(obj.position, dtype=np.float64), np.asarray(obj.quaternion, dtype=np.float64)
    omega = np.asarray(obj.angular_velocity, dtype=np.float64)
    speed = float(np.linalg.norm(omega))
    back = geometry.quat_from_axis_angle(omega, -speed * frame_time) if speed > 0 else np.array([1.0, 0, 0, 0])
    quaternion = geometry.quat_normalize(geometry.quat_multiply(back, obj.quaternion))
    offset = np.zeros(3) if isinstance(obj, ArticulatedObject) else _com_offset(obj)
    com = np.asarray(obj.position) + geometry.rotate(obj.quaternion, offset) - np.asarray(obj.velocity) * frame_time
    return com - geometry.rotate(quaternion, offset), quaternion


def simulate(scene: Scene, num_frames: int | None = None) -> Trajectory:
    """Simulate `scene` and record every object at frames 0..num_frames-1.

    Frame 0 is the initial state; frame f is the state after f * steps_per_frame
    physics steps of 1/step_rate seconds. Collisions are reported once per
    contact onset between a pair, at the fractional frame of the first state in
    which the pair touches (within one physics step of the true impact).

    The trajectory's boundary poses, which the flow of the first and last frames
    needs, are: one more simulated frame after the last, and before the first the
    initial state moved back one frame at its initial (angular) velocity.
    """
    scene.validate()
    if not scene.allow_interpenetration:
        _check_no_interpenetration(scene)
    frames = scene.num_frames if num_frames is None else num_frames
    spf = scene.steps_per_frame
    n = len(scene.objects)
    pos, quat = np.zeros((n, frames + 1, 3)), np.zeros((n, frames + 1, 4))
    vel, ang = np.zeros((n, frames + 1, 3)), np.zeros((n, frames + 1, 3))
    kinematic = {i: _keyframes(o, frames) for i, o in enumerate(scene.objects)
                 if o.motion == "kinematic" and not isinstance(o, DeformableObject)}
    soft_vertices: dict[int, np.ndarray] = {}
    names = [o.name for o in scene.objects]
    collisions: list[Collision] = []
    with _world(scene) as world:
        links = {i: _LinkRecord(world, body, frames) for i, body in world.articulated.items()}
        rest_shape = {i: meshes.object_mesh(scene.objects[i]).vertices.shape for i in world.soft}

        def record(frame: int) -> None:
            for i in range(n):
                if world.rigid(i):
                    pos[i, frame], quat[i, frame], vel[i, frame], ang[i, frame] = world.state(i)
            for i, body in world.soft.items():
                soft_vertices.setdefault(i, np.zeros((frames + 1, *rest_shape[i])))[frame] = \
                    deformation.vertices(world.p, world.client, body)
            for record_links in links.values():
                record_links.record(frame)

        for i, record_links in links.items():
            record_links.before(_pose_before(scene.objects[i], 1.0 / scene.frame_rate))
            articulation.place_scripted(world.p, world.client, world.articulated[i], 0.0, scene.frame_rate)
        record(0)
        in_contact = set(world.touching())
        for step in range(1, frames * spf + 1):
            for i, keys in kinematic.items():
                world.set_pose(i, *_interpolate(keys, step / spf))
            for body in world.articulated.values():
                articulation.drive(world.p, world.client, body, (step - 1) / spf, 1.0 / spf, scene.frame_rate)
            world.p.stepSimulation(physicsClientId=world.client)
            for body in world.articulated.values():
                articulation.place_scripted(world.p, world.client, body, step / spf, scene.frame_rate)
            touching = world.touching()
            if step <= (frames - 1) * spf:  # the extra frame only provides boundary poses
                for pair in sorted(set(touching) - in_contact):
                    collisions.append(_collision(step, spf, names, pair, touching[pair]))
            in_contact = set(touching)
            if step % spf == 0:
                record(step // spf)
    if frames > 1:
        for i in kinematic:  # velocities of kinematic objects from their keyframes
            vel[i, :frames] = np.gradient(pos[i, :frames], 1.0 / scene.frame_rate, axis=0)
    boundary_pos = np.zeros((n, 2, 3))
    boundary_quat = np.zeros((n, 2, 4))
    deformations: dict[str, DeformStates] = {}
    for i, obj in enumerate(scene.objects):
        if isinstance(obj, DeformableObject):
            if i in soft_vertices:
                v = soft_vertices[i]
                worst = deformation.stretch(obj, v)
                if worst > deformation.UNSTABLE_STRETCH:
                    log.warning("deformable %r: an edge stretched to %.1fx its rest length (PyBullet's mass-spring "
                                "solver is unstable for stiff springs on light vertices: lower its stiffness or "
                                "raise its mass)", obj.name, worst)
                states = DeformStates(v[:frames], np.stack([deformation.before(obj, v[0], 1.0 / scene.frame_rate),
                                                            v[frames]]))
            else:
                states = scripted_deformation(obj, frames)
            deformations[obj.name] = states
            pos[i, :frames], quat[i, :frames], vel[i, :frames], ang[i, :frames] = \
                deformation_poses(obj, states, scene.frame_rate)
            means = states.boundary_vertices.mean(axis=1)
            boundary_pos[i], boundary_quat[i] = means, (quat[i, 0], quat[i, frames - 1])
            continue
        before_pos, before_quat = _pose_before(obj, 1.0 / scene.frame_rate)
        boundary_pos[i] = before_pos, pos[i, frames]
        boundary_quat[i] = before_quat, quat[i, frames]
    return Trajectory(names, pos[:, :frames], quat[:, :frames], vel[:, :frames], ang[:, :frames], collisions,
                      boundary_positions=boundary_pos, boundary_quaternions=boundary_quat,
                      links={scene.objects[i].name: r.states() for i, r in links.items()}, deformations=deformations)


class _LinkRecord:
    """An articulated object's links and joints at frames 0..T (T: the extra frame after the
    last) and the frame before the first."""

    def __init__(self, world: _World, body: articulation.Body, frames: int) -> None:
        self.world, self.body, self.frames = world, body, frames
        count, joints = len(body.obj.robot.links), len(body.joints)
        self.positions, self.quaternions = np.zeros((count, frames + 1, 3)), np.zeros((count, frames + 1, 4))
        self.joint_positions, self.joint_velocities = np.zeros((joints, frames + 1)), np.zeros((joints, frames + 1))
        self.rotations = np.zeros((len(body.balls), frames + 1, 4))
        self.before_positions, self.before_quaternions = np.zeros((count, 3)), np.zeros((count, 4))

    def before(self, base: tuple[np.ndarray, np.ndarray]) -> None:
        """The links one frame before the first: the base there, scripted joints where their series
        continues backwards, the others where they start (at rest); then back to frame 0."""
        p, c, body = self.world.p, self.world.client, self.body
        start, _ = articulation.joint_states(p, c, body)  # at rest: nothing has moved yet
        start_rotations = articulation.ball_states(p, c, body)
        start_base = articulation.base_pose(p, c, body)
        articulation.set_base(p, c, body, *base)
        before_rotations = [articulation.rotation_value(body.obj.joint_rotations[name], -1.0)[0]
                            if name in body.obj.joint_rotations else start_rotations[b]
                            for b, name in enumerate(body.balls)]
        articulation.set_joints(p, c, body, [articulation.initial_position(body.obj, name, -1.0)
                                             for name in body.joints], before_rotations)
        self.before_positions, self.before_quaternions = articulation.link_poses(p, c, body)
        articulation.set_base(p, c, body, *start_base)
        articulation.set_joints(p, c, body, start, start_rotations)

    def record(self, frame: int) -> None:
        p, c = self.world.p, self.world.client
        self.positions[:, frame], self.quaternions[:, frame] = articulation.link_poses(p, c, self.body)
        self.joint_positions[:, frame], self.joint_velocities[:, frame] = articulation.joint_states(p, c, self.body)
        self.rotations[:, frame] = articulation.ball_states(p, c, self.body)

    def states(self) -> LinkStates:
        t = self.frames
        return LinkStates(list(self.body.obj.robot.links), self.positions[:, :t], self.quaternions[:, :t],
                          np.stack([self.before_positions, self.positions[:, t]], axis=1),
                          np.stack([self.before_quaternions, self.quaternions[:, t]], axis=1),
                          list(self.body.joints), self.joint_positions[:, :t], self.joint_velocities[:, :t],
                          list(self.body.balls), self.rotations[:, :t])


def _check_no_interpenetration(scene: Scene) -> None:
    """SceneError naming the deepest pair when a dynamic object starts inside another."""
    dynamic = {o.name for o in scene.objects if o.motion == "dynamic"}
    if not dynamic:
        return
    for a, b, depth in overlapping_pairs(scene, INTERPENETRATION_TOLERANCE, include_background=True):
        if a in dynamic or b in dynamic:
            raise SceneError(f"Scene.objects ({a!r}, {b!r})", f"{depth * 1000:.1f} mm",
                             f"interpenetrate at frame 0 by more than {INTERPENETRATION_TOLERANCE * 1000:g} mm "
                             f"(the engine would push them apart at speed); place them apart "
                             f"(place_without_overlap) or set Scene.allow_interpenetration")


def _collision(step: int, spf: int, names: list[str], pair: tuple[int, int], points: list) -> Collision:
    normal = np.mean([pt[7] for pt in points], axis=0)
    return Collision(
        frame=(step - 1) / spf,  # a step finds contacts on the state it starts from
        objects=(names[pair[0]], names[pair[1]]),
        force=float(sum(pt[9] for pt in points)),
        position=_vec3(np.mean([pt[5] for pt in points], axis=0)),
        normal=_vec3(normal / np.linalg.norm(normal)))


def _vec3(v: np.ndarray) -> tuple[float, float, float]:
    return float(v[0]), float(v[1]), float(v[2])


def settle(scene: Scene, seconds: float = 2.0) -> Scene:
    """Let the dynamic objects come to rest, and return the scene with their resting
    poses as initial poses (velocities zeroed). The input scene is not changed.

    Resting contacts in the engine sink by up to centimetres into a mesh floor; each
    settled object is then lifted out of whatever it penetrates (along the contact
    normal), so the returned scene starts without interpenetration."""
    if not seconds > 0:
        raise SceneError("settle.seconds", seconds, "must be > 0")
    steps = int(round(seconds * scene.step_rate))
    new_objects = []
    with _world(scene) as world:
        for _ in range(steps):
            world.p.stepSimulation(physicsClientId=world.client)
        world.separate([i for i, o in enumerate(scene.objects) if o.motion == "dynamic" and world.rigid(i)])
        for i, obj in enumerate(scene.objects):
            if obj.motion != "dynamic" or not world.rigid(i):
                new_objects.append(obj)
                continue
            position, quaternion, _, _ = world.state(i)
            new_objects.append(_moved(obj, position, quaternion, zero_velocity=True))
    settled = Scene.from_dict(scene.to_dict())
    settled.objects = new_objects
    return settled.validate()


def _moved(obj: SceneObject, position: Vector, quaternion: Vector,
           zero_velocity: bool = False) -> SceneObject:
    import dataclasses

    changes: dict = {"position": tuple(float(v) for v in position),
                     "quaternion": tuple(float(v) for v in quaternion)}
    if zero_velocity:
        changes.update(velocity=(0.0, 0.0, 0.0), angular_velocity=(0.0, 0.0, 0.0))
    return dataclasses.replace(obj, **changes)


def overlapping_pairs(scene: Scene, tolerance: float = 1e-3, include_background: bool = False,
                      stand_ins: bool = False) -> list[tuple[str, str, float]]:
    """Pairs of objects that interpenetrate by more than `tolerance` metres at frame 0,
    with the depth (worst first). Background objects are left out unless asked for; deformable
    objects too, unless `stand_ins` (then their rest shape's convex hull takes part)."""
    skipped = {i for i, o in enumerate(scene.objects) if isinstance(o, DeformableObject) and not stand_ins}
    with _world(scene, stand_ins=True) as world:  # rigid stand-ins: no soft body is loaded only to be skipped
        p, c = world.p, world.client
        p.performCollisionDetection(physicsClientId=c)
        worst: dict[tuple[int, int], float] = {}
        for i, obj in enumerate(world.objects):
            if (obj.is_background and not include_background) or i in skipped:
                continue
            for j in range(i + 1, len(world.objects)):
                if (world.objects[j].is_background and not include_background) or j in skipped:
                    continue
                for point in p.getClosestPoints(world.bodies[i], world.bodies[j], distance=0.0,
                                                physicsClientId=c):
                    if point[8] < -tolerance:
                        worst[(i, j)] = max(worst.get((i, j), 0.0), -point[8])
    pairs = [(world.objects[i].name, world.objects[j].name, depth) for (i, j), depth in worst.items()]
    return sorted(pairs, key=lambda pair: -pair[2])


def place_without_overlap(scene: Scene, obj: SceneObject, region: tuple[Sequence[float], Sequence[float]],
                          rng: np.random.Generator, random_rotation: bool = False, margin: float = 0.0,
                          max_trials: int = 5000) -> SceneObject:
    """Add `obj` to `scene` at a uniformly sampled position in `region` (low, high
    corners of a box for the object's origin) where it touches no other object.

    Resamples until a free spot is found; raises PlacementError (saying how full
    the region is) only after `max_trials` attempts all overlap. With
    `random_rotation` a uniform rotation is drawn with each position. Deformable objects take
    part as rigid bodies of their rest shape's convex hull.
    """
    from kubric_gen.randomness import random_rotation as draw_rotation

    low, high = np.asarray(region[0], dtype=float), np.asarray(region[1], dtype=float)
    if low.shape != (3,) or high.shape != (3,) or (low > high).any():
        raise SceneError("place_without_overlap.region", (tuple(low), tuple(high)),
                         "expected ((x0, y0, z0), (x1, y1, z1)) with low <= high")
    if any(o.name == obj.name for o in scene.objects):
        raise SceneError("place_without_overlap.obj.name", obj.name, "duplicate name")
    with _world(scene, [*scene.objects, obj], stand_ins=True) as world:
        i = len(world.objects) - 1
        for _trial in range(max_trials):
            position = tuple(float(v) for v in rng.uniform(low, high))
            quaternion = draw_rotation(rng) if random_rotation else obj.quaternion
            world.set_pose(i, position, quaternion)
            if not world.overlaps(i, margin):
                placed = _moved(obj, position, quaternion)
                scene.add(placed)
                return placed
        lo, hi = world.p.getAABB(world.bodies[i], physicsClientId=world.client)
    size = " x ".join(f"{b - a:.2g}" for a, b in zip(lo, hi, strict=True))
    background = [o.name for o in scene.objects if o.is_background]
    others = len(scene.objects) - len(background)
    raise PlacementError(
        f"could not place {obj.name!r} ({type(obj).__name__} {obj.asset_id!r}, {size} m) in region "
        f"{tuple(low)}..{tuple(high)}: each of {max_trials} random positions touched one of the {others} objects "
        f"placed before it" + (f" or the background ({', '.join(background)})" if background else "")
        + "; enlarge the region, or place fewer or smaller objects")
