"""Offscreen RGB rendering of the named cameras (MuJoCo + OpenGL through MUJOCO_GL, EGL by default)."""
from __future__ import annotations

import os

import mujoco
import numpy as np


class RenderBackendError(RuntimeError):
    """No OpenGL backend could be opened for offscreen rendering."""


def _backend_error(exc: BaseException) -> RenderBackendError:
    backend = os.environ.get("MUJOCO_GL", "<unset>")
    return RenderBackendError(
        f"MuJoCo could not render with MUJOCO_GL={backend!r} ({type(exc).__name__}: {exc}). "
        "On a headless machine set MUJOCO_GL=egl before Python starts (needs libEGL, e.g. Mesa "
        "llvmpipe: apt install libegl1 libgl1-mesa-dri); scripts/env.sh does this.")


class CameraRenderer:
    """Renders (H, W, 3) uint8 frames for a fixed set of cameras of one model.

    One GL context per renderer; call `render(data)` only when frames are needed (camera rate),
    never per physics substep.
    """

    def __init__(self, model: mujoco.MjModel, cameras: tuple[str, ...], height: int, width: int) -> None:
        missing = [c for c in cameras if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, c) < 0]
        if missing:
            known = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(f"unknown camera(s) {missing}; the scene has {known}")
        if height > model.vis.global_.offheight or width > model.vis.global_.offwidth:
            model.vis.global_.offheight = max(height, model.vis.global_.offheight)
            model.vis.global_.offwidth = max(width, model.vis.global_.offwidth)
        self.cameras = cameras
        try:
            self._renderer = mujoco.Renderer(model, height, width)
        except Exception as exc:  # any backend failure (ImportError, GL errors) becomes one clear message
            raise _backend_error(exc) from exc

    def render(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        frames = {}
        try:
            for cam in self.cameras:
                self._renderer.update_scene(data, camera=cam)
                frames[cam] = self._renderer.render().copy()
        except Exception as exc:
            raise _backend_error(exc) from exc
        return frames

    def close(self) -> None:
        self._renderer.close()
