"""Simulation benchmark: physics and camera speed vs real time, scripted expert success rates.

One run measures everything against a baseline from the same run (the same command replay as
bare `mujoco.mj_step` calls on the same model) and prints machine info, so numbers from a busy shared machine stay interpretable.

    python bench/bench_sim.py                 # full run (100 expert episodes per task)
    python bench/bench_sim.py --episodes 10   # quick look
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from tqdm import tqdm

from recap_sim.env import SimConfig, SimEnv
from recap_sim.expert import ExpertConfig, ScriptedExpert
from recap_core.aloha_layout import CAMERA_NAMES

import mujoco  # noqa: I001  (after recap_sim, which selects the headless GL backend)

DEFAULT_CAMERAS = SimConfig(cameras=CAMERA_NAMES)  # 3 cameras, 240x320, every 5th step = 10 Hz
MIXED = ExpertConfig(speed=0.8, hesitation=0.3, noise=0.03, mistake_prob=0.3)


def machine_info() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus, load {tuple(round(x, 2) for x in load)}, "
            f"python {platform.python_version()}, mujoco {mujoco.__version__}, MUJOCO_GL={os.environ.get('MUJOCO_GL')}")


def expert_commands(task: str, seed: int) -> np.ndarray:
    """One clean expert episode's commands (T, 14), replayed by the physics benchmarks."""
    env = SimEnv(SimConfig(task=task))
    expert = ScriptedExpert(env)
    obs, commands, done = env.reset(seed), [], False
    while not done:
        commands.append(expert.act(obs))
        res = env.step(commands[-1])
        obs, done = res.observation, res.done
    return np.array(commands)


class Clock:
    """Wall time and this process's CPU time (all threads): on a shared machine the CPU-time rate
    says what the code would do with a core to itself; the wall rate is what it did today."""

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def raw_physics_rate(task: str, commands: np.ndarray, seed: int, repeats: int) -> tuple[float, float]:
    """Baseline: the same command replay as bare mj_step calls (no observation, task or contact
    bookkeeping): (sim s per wall s, sim s per CPU s)."""
    env = SimEnv(SimConfig(task=task))
    sim, wall, cpu = 0.0, 0.0, 0.0
    for _ in range(repeats):
        env.reset(seed)
        with Clock() as clock:
            for command in commands:
                env._apply_command(command)  # noqa: SLF001 (the env's own actuator mapping, nothing else)
                mujoco.mj_step(env.model, env.data, nstep=env.substeps)
        wall, cpu, sim = wall + clock.wall, cpu + clock.cpu, sim + len(commands) * env.control_period
    return sim / wall, sim / cpu


def replay_rate(config: SimConfig, commands: np.ndarray, seed: int, repeats: int) -> tuple[float, float]:
    """SimEnv stepping the same commands: (sim s per wall s, sim s per CPU s)."""
    env = SimEnv(config)
    sim, wall, cpu = 0.0, 0.0, 0.0
    for _ in range(repeats):
        env.reset(seed)
        with Clock() as clock:
            for command in commands:
                env.step(command)
        wall, cpu, sim = wall + clock.wall, cpu + clock.cpu, sim + len(commands) * env.control_period
    env.close()
    return sim / wall, sim / cpu


def render_cost(config: SimConfig, frames: int = 30) -> float:
    """Wall seconds per rendered camera image."""
    env = SimEnv(config)
    env.reset(0)
    start = time.perf_counter()
    for _ in range(frames):
        env.render()
    cost = (time.perf_counter() - start) / (frames * len(config.cameras))
    env.close()
    return cost


def expert_stats(task: str, config: ExpertConfig, episodes: int, label: str) -> dict:
    env = SimEnv(SimConfig(task=task))
    expert = ScriptedExpert(env, config, seed=0)
    times, reasons, wall, steps = [], {}, 0.0, 0
    for seed in tqdm(range(episodes), desc=f"{task} {label}", leave=False):
        obs = env.reset(seed)
        expert.reset()
        done = False
        while not done:
            start = time.perf_counter()
            command = expert.act(obs)
            wall += time.perf_counter() - start
            res = env.step(command)
            obs, done, steps = res.observation, res.done, steps + 1
        if res.outcome == "success":
            times.append(obs.time)
        else:
            reasons[res.failure_reason] = reasons.get(res.failure_reason, 0) + 1
    return {"success": len(times) / episodes, "mean_time": float(np.mean(times)) if times else float("nan"),
            "reasons": reasons, "expert_ms_per_step": 1000 * wall / max(steps, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100, help="clean expert episodes per task (default 100)")
    parser.add_argument("--mixed-episodes", type=int, default=30, help="episodes per task with the mistake knobs on")
    parser.add_argument("--repeats", type=int, default=3, help="replays of one expert episode for the physics rates")
    args = parser.parse_args()
    print("machine:", machine_info())
    print(f"default cameras: {DEFAULT_CAMERAS.cameras} at {DEFAULT_CAMERAS.image_size[1]}x{DEFAULT_CAMERAS.image_size[0]}, "
          f"every {DEFAULT_CAMERAS.camera_period_steps} control steps "
          f"({1 / (DEFAULT_CAMERAS.camera_period_steps * DEFAULT_CAMERAS.control_period):.0f} Hz)")
    for task in ("transfer_cube", "espresso"):
        commands = expert_commands(task, seed=0)
        baseline = raw_physics_rate(task, commands, 0, args.repeats)
        physics = replay_rate(SimConfig(task=task), commands, 0, args.repeats)
        cams = SimConfig(task=task, cameras=DEFAULT_CAMERAS.cameras, image_size=DEFAULT_CAMERAS.image_size,
                         camera_period_steps=DEFAULT_CAMERAS.camera_period_steps)
        with_cams = replay_rate(cams, commands, 0, 1)
        per_image = render_cost(cams)
        print(f"[{task}] real-time factors, wall (CPU time): raw mj_step baseline {baseline[0]:.0f}x "
              f"({baseline[1]:.0f}x); env physics-only {physics[0]:.0f}x ({physics[1]:.0f}x), "
              f"{physics[0] / baseline[0]:.2f} of baseline, target >= 50x; with default cameras {with_cams[0]:.1f}x "
              f"({with_cams[1]:.1f}x), target >= 1x; render {1000 * per_image:.1f} ms wall per "
              f"{DEFAULT_CAMERAS.image_size[1]}x{DEFAULT_CAMERAS.image_size[0]} image", flush=True)
    for task in ("transfer_cube", "espresso"):
        for label, config, n in (("clean", ExpertConfig(), args.episodes), ("mixed", MIXED, args.mixed_episodes)):
            if n <= 0:
                continue
            s = expert_stats(task, config, n, label)
            print(f"[{task}] expert {label} ({config.speed=}, {config.hesitation=}, {config.noise=}, "
                  f"{config.mistake_prob=}): success {100 * s['success']:.0f}% of {n}, mean time to success "
                  f"{s['mean_time']:.2f} s, expert {s['expert_ms_per_step']:.2f} ms/step, failures {s['reasons']}",
                  flush=True)


if __name__ == "__main__":
    main()
