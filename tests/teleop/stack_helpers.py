"""Helpers for the control-stack integration tests: pty node process, leader arms, stack handles."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sensor_msgs.msg import JointState

from policy.openpi_test_server import OpenpiTestServer
from recap_core.aloha_layout import SIM_GRIPPER, arm_command, arm_vector, join_arms, reorder_by_name, split_arms
from ros_harness import NodeProcess, SpinningNode

# The policy node's follower gripper calibration (the sim's).
GRIPPER_PARAMS = [f"follower_gripper_{end}:={value}" for end, value in (("closed", SIM_GRIPPER.closed),
                                                                        ("open", SIM_GRIPPER.open))]
# The robot (topics, joints, grippers, limits, adapter) comes from the aloha_sim description.
ARBITRATION_PARAMS = ["robot:=aloha_sim", "use_sim_time:=true", "watchdog_timeout_s:=0.2", "max_step:=0.05",
                      "leader_motion_threshold_rad:=0.1", "takeover_threshold_rad:=0.8"]


def ros_args(params: list[str]) -> list[str]:
    out = ["--ros-args"]
    for p in params:
        out += ["-p", p]
    return out


class PtyNodeProcess:
    """`python -m module` with a pseudo-terminal as stdin (for the takeover key); log in a file."""

    def __init__(self, module: str, args: list[str], log_dir: Path) -> None:
        self.module = module
        self.log_path = log_dir / f"{module.replace('.', '_')}.pty.log"
        self._log = open(self.log_path, "w")
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", module, *args], stdin=slave,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        os.close(slave)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(subprocess.signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)
        self._log.close()
        return self.proc.returncode


class LeaderArms:
    """The human's leader arms: publishes `pose` (14-D, normalised grippers) at 50 Hz on both topics."""

    def __init__(self, node, pose: np.ndarray) -> None:
        self.pose = np.asarray(pose, dtype=np.float64)
        self._node = node
        self._pubs = [node.create_publisher(JointState, f"/leader_{a}/joint_states", 10) for a in ("left", "right")]
        node.create_timer(0.02, self._tick)

    def _tick(self) -> None:
        stamp = self._node.get_clock().now().to_msg()
        for pub, arm in zip(self._pubs, split_arms(self.pose)):
            names, raw = arm_command(arm, SIM_GRIPPER)
            msg = JointState(name=names, position=raw)
            msg.header.stamp = stamp
            pub.publish(msg)


def follower_vector(left: JointState, right: JointState) -> np.ndarray:
    return join_arms(arm_vector(left.name, left.position, SIM_GRIPPER), arm_vector(right.name, right.position, SIM_GRIPPER))


def vector(msg: JointState) -> np.ndarray:
    return reorder_by_name(msg.name, msg.position)


@dataclass
class Stack:
    node: SpinningNode
    server: OpenpiTestServer
    sim: NodeProcess
    policy: NodeProcess
    arbitration: PtyNodeProcess
    leader: LeaderArms | None = None
