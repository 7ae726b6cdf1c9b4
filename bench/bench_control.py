"""Control-rate benchmark of recap_policy + recap_teleop (one run; ratios against a same-run baseline).

1. /policy/command at 50 Hz while the default-size model infers in the same process (real policy
   node, real DDS): inter-command interval deviation p50/p99/max and missed ticks, from the
   commands' header stamps (the tick times). Baseline: the same node and timer with inference
   triggered once only (no inference load).
2. Observation-to-first-command latency of each new chunk: observation stamp -> stamp of the first
   command computed from that chunk.
3. Arbitration added latency: a /policy/command handed to the arbitration node's callback -> the
   arm commands published (in-process, wall clock), p50/p99/max.
4. Watchdog hold latency over DDS (wall clock): a 50 Hz policy command stream stops -> the
   arbitration node reports the watchdog hold. Baseline: the configured timeout (the least it can be).

    python bench/bench_control.py --duration 60
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # ros_harness (spinning test node, process runner)

STATE_NAMES = ("cube_x", "cube_y", "cube_z", "cube_qw", "cube_qx", "cube_qy", "cube_qz",
               "cube_touch_left", "cube_touch_right", "cube_touch_table")
PERIOD = 0.02


def write_default_checkpoint(directory: Path, cameras: tuple[str, ...]) -> Path:
    """The default PolicyConfig (H=50, width 256, flow 512 x 3, 10 denoising steps), untrained."""
    import torch
    from recap_core.robot_description import load_robot
    from recap_model.checkpoint import save_checkpoint
    from recap_model.robot_layout import RobotLayout
    from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel
    from recap_model.normalization import NormStats
    torch.manual_seed(0)
    s = len(STATE_NAMES)
    config = PolicyConfig(observation=ObservationConfig(state_dim=s, cameras=cameras, tasks=("transfer_cube",)))
    stats = NormStats(mean={"qpos": np.zeros(14, np.float32), "env_state": np.zeros(s, np.float32),
                            "action": np.zeros(14, np.float32)},
                      std={"qpos": np.ones(14, np.float32), "env_state": np.ones(s, np.float32),
                           "action": np.full(14, 0.01, np.float32)})
    robot = RobotLayout.from_description(load_robot("aloha_sim")).identity()
    return save_checkpoint(directory, "policy", PolicyModel(config), stats, robot=robot,
                           metadata={"control_period": PERIOD, "state_names": list(STATE_NAMES)})


class Robot:
    """Publishes follower joint states, object state and camera images at 50 Hz (the policy's inputs)."""

    def __init__(self, node, cameras: tuple[str, ...]) -> None:
        from sensor_msgs.msg import Image, JointState
        self._types = (JointState, Image)
        self.node = node
        self.joints = [node.create_publisher(JointState, f"/follower_{a}/joint_states", 10) for a in ("left", "right")]
        self.state = node.create_publisher(JointState, "/sim/object_state", 10)
        self.images = {c: node.create_publisher(Image, f"/{c}/image_raw", 10) for c in cameras}
        self.frame = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8).tobytes()
        node.create_timer(PERIOD, self._tick)

    def _tick(self) -> None:
        joint_state, image = self._types
        stamp = self.node.get_clock().now().to_msg()
        for pub in self.joints:
            msg = joint_state(name=["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate",
                                    "gripper"], position=[0.0, -0.9, 1.3, 0.0, 0.1, 0.0, 1.49])
            msg.header.stamp = stamp
            pub.publish(msg)
        msg = joint_state(name=list(STATE_NAMES), position=[0.0] * len(STATE_NAMES))
        msg.header.stamp = stamp
        self.state.publish(msg)
        for pub in self.images.values():
            img = image(height=96, width=128, encoding="rgb8", step=384, data=self.frame)
            img.header.stamp = stamp
            pub.publish(img)


def stats_ms(values) -> str:
    v = np.asarray(values) * 1e3
    if v.size == 0:
        return "n/a"
    return f"p50 {np.percentile(v, 50):.2f} ms, p99 {np.percentile(v, 99):.2f} ms, max {v.max():.2f} ms (n={v.size})"


def run_policy_node(node, checkpoint: Path, inference_every: int, duration: float, log_dir: Path, label: str) -> dict:
    """Start a policy node, record `duration` s of its output, stop it."""
    from recap_msgs.msg import ActionChunk
    from ros_harness import NodeProcess
    from sensor_msgs.msg import JointState
    commands, chunks = [], []
    cmd_sub = node.node.create_subscription(JointState, "/policy/command", lambda m: commands.append(m), 10)
    chunk_sub = node.node.create_subscription(ActionChunk, "/policy/action_chunk",
                                              lambda m: chunks.append((time.time(), len(commands), m)), 10)
    proc = NodeProcess("recap_policy.policy_node", ["--ros-args", "-p", f"checkpoint:={checkpoint}",
                                                    "-p", "task:=transfer_cube", "-p", f"inference_every:={inference_every}",
                                                    "-p", "scheduler:=rtc", "-p", "max_observation_age_s:=0.5",
                                                    "-p", "allow_privileged_state:=true"], log_dir)
    deadline = time.monotonic() + 120
    while len(commands) < 50:  # warm: the model loaded and the first chunk is executing
        if time.monotonic() > deadline or proc.proc.poll() is not None:
            raise SystemExit(f"{label}: the policy node produced no commands; log:\n{proc.log()[-3000:]}")
        time.sleep(0.1)
    first = len(commands)
    chunk_first = len(chunks)
    print(f"  {label}: warm, recording {duration:.0f} s ...", flush=True)
    threading.Event().wait(duration)
    recorded = commands[first:]
    recorded_chunks = chunks[chunk_first:]
    proc.stop()
    node.node.destroy_subscription(cmd_sub)
    node.node.destroy_subscription(chunk_sub)
    stamps = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in recorded])
    intervals = np.diff(stamps)
    expected = int(round((stamps[-1] - stamps[0]) / PERIOD))
    # Observation -> first command of the chunk: the chunk is published right after that command, in the
    # same tick; its index in `commands` at arrival points at the latest command then received.
    obs_to_cmd = []
    for _, n_commands, chunk in recorded_chunks:
        if n_commands == 0:
            continue
        cmd = commands[n_commands - 1]
        obs = chunk.header.stamp.sec + chunk.header.stamp.nanosec * 1e-9
        obs_to_cmd.append(cmd.header.stamp.sec + cmd.header.stamp.nanosec * 1e-9 - obs)
    latencies = [c.inference_latency.sec + c.inference_latency.nanosec * 1e-9 for _, _, c in recorded_chunks]
    return {"deviation": np.abs(intervals - PERIOD), "missed": max(0, expected + 1 - len(stamps)),
            "late": int((intervals > 1.5 * PERIOD).sum()), "n": len(stamps), "obs_to_cmd": obs_to_cmd,
            "inference": latencies, "chunks": len(recorded_chunks)}


def arbitration_latency(n: int) -> np.ndarray:
    """policy command in -> arm commands + executed command out, through the node's own callback."""
    import rclpy
    from sensor_msgs.msg import JointState

    from recap_core.aloha_layout import JOINT_NAMES, split_arms
    from recap_teleop.arbitration_node import ArbitrationNode
    rclpy.init(args=["--ros-args", "-p", "keyboard:=false", "-p", "robot:=aloha_sim"])
    node = ArbitrationNode()
    node.start()
    pose = np.array([0.0, -0.9, 1.3, 0.0, 0.1, 0.0, 0.5] * 2)
    for i, arm in enumerate(split_arms(pose)):
        node.core.follower(i, arm, 0.0)
    out, base = [], []
    stamp = node.get_clock().now().to_msg()
    for k in range(n):
        command = pose + 0.001 * np.sin(k / 10)
        msg = JointState(name=list(JOINT_NAMES), position=command.tolist())
        t0 = time.perf_counter()
        node._on_policy_command(msg)  # what the executor calls on arrival; returns after publishing
        out.append(time.perf_counter() - t0)
        time.sleep(PERIOD / 4)
        # Baseline: only the publishing the node must do anyway (two arm commands + the executed command).
        t0 = time.perf_counter()
        node.adapter.publish(command, stamp)
        node.executed_pub.publish(JointState(name=list(JOINT_NAMES), position=command.tolist()))
        base.append(time.perf_counter() - t0)
        time.sleep(PERIOD / 4)
    node.destroy_node()
    rclpy.shutdown()
    return np.asarray(out), np.asarray(base)


def watchdog_latency(trials: int) -> tuple[np.ndarray, float]:
    """Seconds from the last command sent to the hold's stamp, per trial; the stream resumes between trials."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState

    from recap_core.aloha_layout import JOINT_NAMES, split_arms
    from recap_msgs.msg import InterventionState
    from recap_teleop.arbitration_node import ArbitrationNode
    from ros_harness import SpinningNode, wait_until
    rclpy.init(args=["--ros-args", "-p", "keyboard:=false", "-p", "robot:=aloha_sim"])
    node = ArbitrationNode()
    node.start()
    pose = np.array([0.0, -0.9, 1.3, 0.0, 0.1, 0.0, 0.5] * 2)
    for i, arm in enumerate(split_arms(pose)):
        node.core.follower(i, arm, 0.0)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    latencies = []
    with SpinningNode("bench_watchdog", domain_id=int(os.environ["ROS_DOMAIN_ID"])) as peer:
        states = peer.collect(InterventionState, "/intervention_state", latched)
        pub = peer.node.create_publisher(JointState, "/policy/command", 10)
        peer.wait_for_subscribers("/policy/command")
        for _ in range(trials):
            for _ in range(25):
                sent = time.time()
                pub.publish(JointState(name=list(JOINT_NAMES), position=pose.tolist()))
                time.sleep(PERIOD)
            start = len(states.messages)
            wait_until(lambda: any("watchdog" in s.detail for s in states.messages[start:]), 10.0, "the hold")
            hold = next(s for s in states.messages[start:] if "watchdog" in s.detail)
            latencies.append(hold.header.stamp.sec + hold.header.stamp.nanosec * 1e-9 - sent)
    executor.shutdown()
    spinner.join()
    timeout = node.config.safety.watchdog_timeout_s
    node.destroy_node()
    rclpy.shutdown()
    return np.asarray(latencies), timeout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds recorded per condition (default 60)")
    parser.add_argument("--cameras", type=int, default=0, choices=[0, 1, 2, 3],
                        help="cameras in the benchmarked model (default 0: the default state-only config)")
    parser.add_argument("--arbitration-samples", type=int, default=3000, help="policy commands pushed through arbitration")
    parser.add_argument("--watchdog-trials", type=int, default=30, help="policy streams stopped to time the hold")
    args = parser.parse_args()

    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(101, 200)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    from ros_harness import SpinningNode
    cameras = ("cam_high", "cam_left_wrist", "cam_right_wrist")[: args.cameras]
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} logical CPUs, load average {os.getloadavg()}, "
          f"{psutil.virtual_memory().total / 2**30:.1f} GiB RAM; python {platform.python_version()}")
    print("caveat: the machine is shared with other jobs; timings are noisy and compared within this run")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_default_checkpoint(Path(tmp) / "default", cameras)
        node = SpinningNode("bench_control", domain_id=int(os.environ["ROS_DOMAIN_ID"]))
        Robot(node.node, cameras)
        print(f"[1/4] 50 Hz command stream, default model (cameras={list(cameras)}), {args.duration:.0f} s per condition")
        base = run_policy_node(node, ckpt, 10**9, args.duration, Path(tmp), "baseline (no inference load)")
        load = run_policy_node(node, ckpt, 10, args.duration, Path(tmp), "inference every 10 ticks")
        node.close()
    for label, r in (("baseline (no inference)", base), ("with inference", load)):
        print(f"  {label}: |interval - 20 ms| {stats_ms(r['deviation'])}; late (>30 ms) {r['late']}, "
              f"missed ticks {r['missed']} of {r['n'] + r['missed']}")
    p99b, p99l = (np.percentile(r["deviation"], 99) for r in (base, load))
    print(f"  p99 deviation ratio load/baseline: {p99l / max(p99b, 1e-9):.2f} "
          f"(target: p99 <= 2 ms -> {'met' if p99l <= 0.002 else 'NOT met'}; missed ticks {load['missed']})")
    print(f"  inference latency (default model): {stats_ms(load['inference'])}; chunks {load['chunks']}")
    print(f"[2/4] observation -> first command of a new chunk: {stats_ms(load['obs_to_cmd'])}")
    arb, publish_only = arbitration_latency(args.arbitration_samples)
    print(f"[3/4] arbitration added latency (callback in -> arm + executed commands published): {stats_ms(arb)} "
          f"(target p99 <= 1 ms -> {'met' if np.percentile(arb, 99) <= 0.001 else 'NOT met'})")
    print(f"  baseline, publishing the same three messages only: {stats_ms(publish_only)}; "
          f"p50 ratio {np.percentile(arb, 50) / np.percentile(publish_only, 50):.2f}, "
          f"p99 ratio {np.percentile(arb, 99) / np.percentile(publish_only, 99):.2f}")
    hold, timeout = watchdog_latency(args.watchdog_trials)
    print(f"[4/4] watchdog: last command sent -> hold reported ({len(hold)} trials): {stats_ms(hold)}; "
          f"baseline, the timeout: {timeout * 1e3:.0f} ms; p50 ratio {np.percentile(hold, 50) / timeout:.2f}, "
          f"max ratio {hold.max() / timeout:.2f}; beyond the timeout: max {(hold.max() - timeout) / PERIOD:.1f} ticks")


if __name__ == "__main__":
    main()
