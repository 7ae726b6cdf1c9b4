"""Policy node chunk latency with three cameras from topics (raw Image and JPEG CompressedImage) vs the
same checkpoint fed in-process, no topics (the baseline).

A small untrained image checkpoint (3 cameras, 48x64 input) runs in a policy node started in this
process; a robot node publishes both follower joint states at 50 Hz and three cameras at
--camera-rate-hz (pre-encoded frames, fresh stamps) on the topics of the robot description: aloha_sim
(raw Image), and for JPEG the same description with compressed camera topics (written to a temporary
file, with a checkpoint of its own: the hash covers the cameras). The latency is the node's own figure in each
ActionChunk (o_t snapshot -> chunk ready: decode, resize, inference). The baseline builds o_t from
the same frames and infers on one thread with nothing else running. Prints machine info; on a shared
machine the figures are taken under its load (printed).

    python bench/bench_policy_cameras.py             # 60 chunks per mode
    python bench/bench_policy_cameras.py --chunks 30
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
import torch
import yaml
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, JointState
from tqdm import tqdm

from recap_core.aloha_layout import ARM_JOINTS, GRIPPER_JOINT
from recap_core.robot_description import RobotDescription, load_robot
from recap_msgs.msg import ActionChunk
from recap_policy.backends import Conditioning
from recap_policy.backends.checkpoint import CheckpointBackend
from recap_policy.image_decoding import RawImage
from recap_policy.observation_builder import ObservationBuilder, ObservationSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "policy"))
from tiny_checkpoint import CAMERAS, write_tiny_image_checkpoint  # noqa: E402

NAMES = [*ARM_JOINTS, GRIPPER_JOINT]
INFERENCE_EVERY = 5  # a chunk every 0.1 s at 50 Hz


def machine_info() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"platform {platform.platform()}, {os.cpu_count()} cpus, load {tuple(round(x, 2) for x in load)}, "
            f"python {platform.python_version()}, torch {torch.__version__}, opencv {cv2.__version__}")


def camera_frames(size: tuple[int, int]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {c: rng.integers(0, 255, size=(*size, 3), dtype=np.uint8) for c in CAMERAS}


def jpeg(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


class Robot(Node):
    """Joint states at 50 Hz and three cameras at `camera_rate_hz`, stamped with this node's clock."""

    def __init__(self, robot: RobotDescription, frames: dict[str, np.ndarray], camera_rate_hz: float) -> None:
        super().__init__("bench_robot")
        self.joints = [self.create_publisher(JointState, t, qos_profile_sensor_data) for t in robot.follower_topics]
        self.cameras = []
        for c, rgb in frames.items():
            camera = robot.camera(c)
            compressed = camera.encoding == "compressed"
            self.cameras.append((self.create_publisher(CompressedImage if compressed else Image, camera.topic,
                                                       qos_profile_sensor_data), self._message(rgb, compressed)))
        self.create_timer(0.02, self._publish_joints)
        self.create_timer(1.0 / camera_rate_hz, self._publish_cameras)

    @staticmethod
    def _message(rgb: np.ndarray, compressed: bool):
        if compressed:
            return CompressedImage(format="jpeg", data=jpeg(rgb))
        h, w, _ = rgb.shape
        return Image(height=h, width=w, encoding="rgb8", step=3 * w, data=rgb.tobytes())

    def _publish_joints(self) -> None:
        stamp = self.get_clock().now().to_msg()
        for pub in self.joints:
            msg = JointState(name=NAMES, position=[0.1, -0.2, 0.3, 0.0, 0.4, 0.0, 0.057])
            msg.header.stamp = stamp
            pub.publish(msg)

    def _publish_cameras(self) -> None:
        stamp = self.get_clock().now().to_msg()
        for pub, msg in self.cameras:
            msg.header.stamp = stamp
            pub.publish(msg)


def jpeg_description(path: Path, size: tuple[int, int]) -> Path:
    """aloha_sim with its cameras as CompressedImage on /<camera>/image_raw/compressed."""
    data = load_robot("aloha_sim").to_dict()
    data["name"] = "aloha_sim_jpeg"
    for camera in data["cameras"]:
        camera.update(topic=f"{camera['topic']}/compressed", encoding="compressed", size=list(size))
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def node_latencies(robot: str, checkpoint: Path, frames: dict[str, np.ndarray], chunks: int,
                   camera_rate_hz: float) -> list[float]:
    """ActionChunk.inference_latency (s) of `chunks` chunks after 3 warm-up chunks."""
    description = load_robot(robot)
    rclpy.init(args=["--ros-args", "-p", f"robot:={robot}", "-p", f"checkpoint:={checkpoint}",
                     "-p", "task:=transfer_cube", "-p", f"inference_every:={INFERENCE_EVERY}"])
    from recap_policy.policy_node import PolicyNode
    policy, publisher = PolicyNode(), Robot(description, frames, camera_rate_hz)
    policy.start()
    latencies: list[float] = []
    done = threading.Event()
    bar = tqdm(total=chunks + 3, desc=description.name, unit="chunk")

    def on_chunk(msg: ActionChunk) -> None:
        latencies.append(msg.inference_latency.sec + 1e-9 * msg.inference_latency.nanosec)
        bar.update()
        if len(latencies) >= chunks + 3:
            done.set()

    listener = Node("bench_listener")
    listener.create_subscription(ActionChunk, "/policy/action_chunk", on_chunk, 10)
    executor = MultiThreadedExecutor(num_threads=2)
    for node in (policy, publisher, listener):
        executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        if not done.wait(timeout=30.0 + chunks * INFERENCE_EVERY * 0.02 * 5):
            raise SystemExit(f"only {len(latencies)} chunks arrived; policy node rejected chunks "
                             f"{policy.latencies.rejected} time(s)")
    finally:
        bar.close()
        executor.shutdown()
        policy.close()
        for node in (policy, publisher, listener):
            node.destroy_node()
        rclpy.shutdown()
        spinner.join(timeout=5.0)
    return latencies[3:]


def in_process_latencies(checkpoint: Path, frames: dict[str, np.ndarray], chunks: int) -> list[float]:
    """The baseline: o_t built from the same raw frames (decode + resize) and inferred, no topics."""
    robot = load_robot("aloha_sim")
    backend = CheckpointBackend(checkpoint, Conditioning(), robot.joint_names, num_threads=1)
    builder = ObservationBuilder(ObservationSpec(arms=robot.follower_arms, cameras={c: c for c in CAMERAS},
                                                 image_size=backend.metadata.image_size, task="transfer_cube"))
    out = []
    for i in range(chunks + 3):
        stamp = time.time_ns()
        for arm in (0, 1):
            builder.update_joints(arm, NAMES, [0.1, -0.2, 0.3, 0.0, 0.4, 0.0, 0.057], stamp)
        for c, rgb in frames.items():
            h, w, _ = rgb.shape
            builder.update_image(c, RawImage(rgb.tobytes(), "rgb8", h, w, 3 * w), stamp)
        start = time.monotonic()
        backend.infer(builder.build(stamp))
        out.append(time.monotonic() - start)
    return out[3:]


def summary(name: str, latencies: list[float], base: float | None) -> str:
    p50, p99 = np.percentile(np.asarray(latencies) * 1000, [50, 99])
    ratio = "" if base is None else f"  p50 {p50 / base:.2f}x the baseline"
    return f"{name:<34} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  (n={len(latencies)}){ratio}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=60, help="chunks measured per mode (after 3 warm-up chunks)")
    ap.add_argument("--camera-size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"),
                    help="size of the published camera frames (resized to the checkpoint's 48x64)")
    ap.add_argument("--camera-rate-hz", type=float, default=30.0, help="rate of each published camera")
    args = ap.parse_args()
    print(machine_info())
    frames = camera_frames(tuple(args.camera_size))
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = write_tiny_image_checkpoint(Path(tmp) / "cams")
        jpeg_robot = str(jpeg_description(Path(tmp) / "aloha_sim_jpeg.yaml", tuple(args.camera_size)))
        jpeg_checkpoint = write_tiny_image_checkpoint(Path(tmp) / "cams_jpeg", robot=jpeg_robot)
        base = in_process_latencies(checkpoint, frames, args.chunks)
        raw = node_latencies("aloha_sim", checkpoint, frames, args.chunks, args.camera_rate_hz)
        compressed = node_latencies(jpeg_robot, jpeg_checkpoint, frames, args.chunks, args.camera_rate_hz)
    h, w = args.camera_size
    print(f"3 cameras {w}x{h} at {args.camera_rate_hz:g} Hz -> 48x64 policy input, 50 Hz control, "
          f"a chunk every {INFERENCE_EVERY} ticks")
    base_p50 = float(np.percentile(np.asarray(base) * 1000, 50))
    print(summary("in-process, no topics (baseline)", base, None))
    print(summary("policy node, raw Image topics", raw, base_p50))
    print(summary("policy node, JPEG CompressedImage", compressed, base_p50))


if __name__ == "__main__":
    main()
