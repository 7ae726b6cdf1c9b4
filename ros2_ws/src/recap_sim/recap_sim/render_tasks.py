"""Write a picture of each task (docs/img/sim_<task>.png): the high camera mid-task above the two
wrist cameras, rendered while the scripted expert works.

    python -m recap_sim.render_tasks --out docs/img
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from recap_core.aloha_layout import ARMS, CAM_HIGH, CAMERA_NAMES, WRIST_CAMERAS
from recap_sim.env import SimConfig, SimEnv
from recap_sim.expert import ScriptedExpert

# The stage at which each picture is taken (the most telling moment of the task).
SNAPSHOT_STAGE = {"transfer_cube": 3, "espresso": 3}


def task_picture(task: str, seed: int, height: int, width: int, extra_steps: int = 10) -> np.ndarray:
    """(H + H/2, W, 3) uint8: the high camera on top, the two wrist cameras at half size below."""
    env = SimEnv(SimConfig(task=task, cameras=CAMERA_NAMES, image_size=(height, width), camera_period_steps=10**6))
    expert = ScriptedExpert(env)
    obs = env.reset(seed)
    after = None
    for _ in range(env.max_steps):
        res = env.step(expert.act(obs))
        obs = res.observation
        if after is None and res.stage >= SNAPSHOT_STAGE[task]:
            after = 0
        if after is not None:
            after += 1
            if after >= extra_steps or res.done:
                break
    frames = env.render()
    env.close()
    wrists = [frames[WRIST_CAMERAS[arm]][::2, ::2] for arm in ARMS]
    return np.concatenate([frames[CAM_HIGH], np.concatenate(wrists, axis=1)], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/img"), help="output folder (default docs/img)")
    parser.add_argument("--seed", type=int, default=0, help="episode seed (default 0)")
    parser.add_argument("--size", type=int, nargs=2, default=(300, 400), metavar=("H", "W"),
                        help="cam_high resolution (default 300 400)")
    args = parser.parse_args()
    import cv2  # opencv-python-headless, only needed here

    args.out.mkdir(parents=True, exist_ok=True)
    for task in SNAPSHOT_STAGE:
        image = task_picture(task, args.seed, *args.size)
        path = args.out / f"sim_{task}.png"
        cv2.imwrite(str(path), image[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
