"""Camera rendering: shapes, rate, and a clear message when no GL backend works."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from recap_sim.env import SimConfig, SimEnv
from recap_core.aloha_layout import CAMERA_NAMES


def test_cameras_render_rgb8_at_camera_rate() -> None:
    env = SimEnv(SimConfig(task="espresso", cameras=CAMERA_NAMES, image_size=(48, 64), camera_period_steps=5))
    obs = env.reset(0)
    assert set(obs.images) == set(CAMERA_NAMES)
    for image in obs.images.values():
        assert image.shape == (48, 64, 3) and image.dtype == np.uint8
        assert image.std() > 5  # a scene, not a blank frame
    times = [env.step(obs.qpos).observation.image_time for _ in range(10)]
    assert times[:4] == [0.0] * 4 and times[4] == pytest.approx(0.1) and times[9] == pytest.approx(0.2)
    forced = env.step(obs.qpos, render=True).observation
    assert forced.image_time == pytest.approx(forced.time)
    env.close()


def test_physics_only_env_has_no_images() -> None:
    env = SimEnv(SimConfig(task="transfer_cube"))
    assert env.reset(0).images == {}
    with pytest.raises(RuntimeError, match="cameras"):
        env.render()


@pytest.mark.parametrize("backend", ["glfw", "osmesa"])
def test_missing_gl_backend_names_mujoco_gl_egl(backend: str) -> None:
    code = ("from recap_sim.env import SimConfig, SimEnv\n"
            "SimEnv(SimConfig(cameras=('cam_high',), image_size=(32, 32))).reset(0)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MUJOCO_GL"] = backend
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "MUJOCO_GL=egl" in proc.stderr, proc.stderr[-2000:]
