"""Test process: publishes a deterministic ActionChunk (from --seed) at 10 Hz until SIGINT.

Publishing repeatedly makes the test independent of when discovery completes.
"""
import argparse

import numpy as np
import rclpy
from builtin_interfaces.msg import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from recap_msgs.msg import ActionChunk

JOINTS = [f"{side}_{j}" for side in ("left", "right") for j in
          ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")]


def expected_chunk(seed: int, horizon: int = 50) -> ActionChunk:
    actions = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(horizon, len(JOINTS))).astype(np.float32)
    msg = ActionChunk()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1234, 567_000_000
    msg.header.frame_id = "aloha"
    msg.chunk_id = seed
    msg.joint_names = JOINTS
    msg.control_period = Duration(sec=0, nanosec=20_000_000)
    msg.horizon, msg.action_dim = horizon, len(JOINTS)
    msg.actions = actions.ravel().tolist()
    msg.advantage_conditioning = ActionChunk.ADVANTAGE_POSITIVE
    msg.guidance_scale = 1.5
    msg.policy_id = f"test/seed{seed}"
    msg.inference_latency = Duration(sec=0, nanosec=42_000_000)
    return msg


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--topic", default="/policy/action_chunk")
    args = parser.parse_args()
    rclpy.init()
    node = Node("action_chunk_talker")
    pub = node.create_publisher(ActionChunk, args.topic, 10)
    msg = expected_chunk(args.seed)
    node.create_timer(0.1, lambda: pub.publish(msg))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
