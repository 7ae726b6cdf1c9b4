"""Scene assembly: the ALOHA bimanual ViperX-300s MJCF from the installed `gym_aloha` package + task objects.

The robot, table and meshes are read at run time from the installed package (never copied into
this repository). The ACT cube is removed and each task adds its own objects through `mujoco.MjSpec`;
the rig's three cameras (`recap_core.aloha_layout.CAMERA_NAMES`) are added here.
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

from recap_core.aloha_layout import ARMS, CAM_HIGH, WRIST_CAMERAS

# Headless machines render through EGL (Mesa llvmpipe without a GPU); MuJoCo reads this at import.
os.environ.setdefault("MUJOCO_GL", "egl")
try:
    import mujoco  # noqa: E402
except (ImportError, AttributeError, RuntimeError) as _exc:  # MuJoCo loads the GL backend at import
    raise ImportError(
        f"importing mujoco failed with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} ({type(_exc).__name__}: {_exc}). "
        "On a headless machine set MUJOCO_GL=egl (needs libEGL, e.g. Mesa llvmpipe); scripts/env.sh does this."
    ) from _exc

ROBOT_MJCF = "bimanual_viperx_transfer_cube.xml"
PHYSICS_TIMESTEP = 0.002  # s; gym-aloha / ACT use MuJoCo's default 2 ms step (10 substeps per 20 ms control period)


class SceneError(RuntimeError):
    """The robot model could not be found or assembled."""


def aloha_assets_dir() -> Path:
    """The `assets/` folder of the installed gym-aloha package (located without importing it,
    since importing `gym_aloha` pulls in gymnasium, which the project does not need)."""
    spec = importlib.util.find_spec("gym_aloha")
    if spec is None or not spec.submodule_search_locations:
        raise SceneError("the ALOHA robot model comes from the `gym-aloha` package: pip install gym-aloha "
                         "(it is in requirements.txt; run `make setup`)")
    assets = Path(list(spec.submodule_search_locations)[0]) / "assets"
    if not (assets / ROBOT_MJCF).is_file():
        raise SceneError(f"{assets / ROBOT_MJCF} is missing: the installed gym-aloha package is incomplete")
    return assets


def _add_cameras(spec: mujoco.MjSpec) -> None:
    # High camera above the table centre looking down and slightly forward (ALOHA's overhead camera).
    spec.worldbody.add_camera(name=CAM_HIGH, pos=[0.0, 0.05, 0.75], xyaxes=[1, 0, 0, 0, 0.83, 0.56], fovy=65)
    # Wrist cameras on the gripper links, behind and above the fingers, looking along the fingers.
    for arm in ARMS:
        link = spec.body(f"vx300s_{arm}/gripper_link")
        link.add_camera(name=WRIST_CAMERAS[arm], pos=[-0.05, 0.0, 0.07],
                        xyaxes=[0, -1, 0, 0.5, 0, 0.866], fovy=75)


# Grasp point between the fingertips in the gripper_link frame (x points along the fingers; the
# fingers close along y). Measured from the finger meshes: tips reach x = 0.154, inner faces are at
# y = +-(finger_qpos - 0.0224).
PINCH_OFFSET = (0.13, 0.0, 0.0)


def _add_pinch_sites(spec: mujoco.MjSpec) -> None:
    for arm in ("left", "right"):
        spec.body(f"vx300s_{arm}/gripper_link").add_site(name=f"{arm}_pinch", pos=list(PINCH_OFFSET), size=[0.005])


# The tabletop mesh collides through its convex hull, which pushes resting objects around; a box
# of the same extent (1.22 x 0.76 m, top face at z = 0) is stable and cheaper. The mesh stays visual.
TABLE_HALF_EXTENTS = (0.6096, 0.381, 0.015)
TABLE_CENTRE = (0.0, 0.6, -0.015)


def _box_table_collision(spec: mujoco.MjSpec) -> None:
    mesh = spec.geom("table")
    mesh.name, mesh.contype, mesh.conaffinity = "table_mesh", 0, 0
    spec.worldbody.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(TABLE_HALF_EXTENTS),
                            pos=list(TABLE_CENTRE), group=3, rgba=[0, 0, 0, 0])


def build_model(add_objects: Callable[[mujoco.MjSpec], None]) -> mujoco.MjModel:
    """Compile robot + table + cameras + the objects `add_objects(spec)` adds to `spec.worldbody`."""
    spec = mujoco.MjSpec.from_file(str(aloha_assets_dir() / ROBOT_MJCF))
    spec.delete(spec.body("box"))  # ACT's cube; tasks add their own objects
    for key in list(spec.keys):
        spec.delete(key)  # the keyframe's qpos size no longer matches
    spec.option.timestep = PHYSICS_TIMESTEP
    for light in spec.lights:
        light.castshadow = False  # shadow passes cost ~25% of a CPU (llvmpipe) frame
    spec.visual.quality.offsamples = 0  # no multisampling: also for CPU rendering cost
    _add_cameras(spec)
    _add_pinch_sites(spec)
    _box_table_collision(spec)
    add_objects(spec)
    try:
        return spec.compile()
    except ValueError as exc:  # mujoco reports compile errors as ValueError
        raise SceneError(f"compiling the ALOHA scene from {aloha_assets_dir()} failed: {exc}") from exc
