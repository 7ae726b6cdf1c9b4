"""Chunk latency through `recap serve` (openpi client over loopback) vs in-process Policy.infer.

    python bench/bench_serve.py [--requests 200] [--threads 1]

One checkpoint of the default policy size (state-only, 15-D object state), measured in the same
run: in-process `Policy.infer` (the baseline), the same request through the websocket server and
openpi's WebsocketClientPolicy on 127.0.0.1, and, for the choice of a lock over request batching,
`Policy.infer_batch` of 4 observations against 4 single calls.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from openpi_client.websocket_client_policy import WebsocketClientPolicy

from recap_core.robot_description import load_robot
from recap_model.checkpoint import save_checkpoint
from recap_model.robot_layout import RobotLayout
from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel
from recap_model.normalization import NormStats
from recap_model.policy import load_policy
from recap_trainer.serving.recap_adapter import RecapPolicyAdapter
from recap_trainer.serving.server import PolicyServer, ServerConfig

STATE_DIM = 15


def write_checkpoint(directory: Path) -> Path:
    config = PolicyConfig(observation=ObservationConfig(state_dim=STATE_DIM, tasks=("espresso",)))
    ones = lambda n: np.ones(n, np.float32)  # noqa: E731
    stats = NormStats(mean={"qpos": 0 * ones(14), "env_state": 0 * ones(STATE_DIM), "action": 0 * ones(14)},
                      std={"qpos": ones(14), "env_state": ones(STATE_DIM), "action": ones(14)})
    robot = RobotLayout.from_description(load_robot("aloha_sim")).identity()
    return save_checkpoint(directory, "policy", PolicyModel(config), stats, robot=robot,
                           metadata={"control_period": 0.02, "state_names": [f"s{i}" for i in range(STATE_DIM)]})


def latencies_ms(call, n: int) -> np.ndarray:
    for _ in range(5):  # warm-up
        call()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append(1e3 * (time.perf_counter() - start))
    return np.asarray(out)


def summary(name: str, ms: np.ndarray) -> str:
    return f"{name:<34} p50 {np.percentile(ms, 50):7.2f} ms   p99 {np.percentile(ms, 99):7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed chunks per variant")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the policy node's default is 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    state, env_state = rng.normal(size=14).astype(np.float32), rng.normal(size=STATE_DIM).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_checkpoint(Path(tmp) / "policy")
        policy = load_policy(ckpt)
        obs = {"qpos": state, "env_state": env_state, "task": "espresso"}
        local = latencies_ms(lambda: policy.infer(obs), args.requests)
        with PolicyServer(RecapPolicyAdapter(load_policy(ckpt)), ServerConfig(port=0)) as server:
            client = WebsocketClientPolicy(host="127.0.0.1", port=server.port)
            request = {"state": state, "env_state": env_state, "prompt": "espresso"}
            served = latencies_ms(lambda: client.infer(request), args.requests)
        singles = latencies_ms(lambda: [policy.infer(obs) for _ in range(4)], args.requests // 4)
        batched = latencies_ms(lambda: policy.infer_batch([obs] * 4), args.requests // 4)
    print(f"platform {platform.platform()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
          f"torch {torch.__version__} ({args.threads} thread(s)), H={policy.config.horizon}, "
          f"{policy.config.denoising_steps} denoising steps, {args.requests} chunks per variant")
    print(summary("in-process Policy.infer (baseline)", local))
    print(summary("recap serve, openpi client", served))
    print(f"ratio served / in-process: p50 {np.median(served) / np.median(local):.2f}x, "
          f"overhead p50 {np.median(served) - np.median(local):.2f} ms")
    print(summary("4 x Policy.infer", singles))
    print(summary("Policy.infer_batch(4)", batched))
    print(f"ratio batched / 4 singles: p50 {np.median(batched) / np.median(singles):.2f}x")


if __name__ == "__main__":
    main()
