"""Fixtures for the control-stack integration tests: one sim + policy + arbitration graph per module."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from policy.openpi_test_server import OpenpiTestServer
from ros_harness import NodeProcess, SpinningNode
from stack_helpers import ARBITRATION_PARAMS, GRIPPER_PARAMS, PtyNodeProcess, Stack, ros_args


@pytest.fixture(scope="module")
def stack(tmp_path_factory, request) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("stack")
    domain = int(os.environ["ROS_DOMAIN_ID"])
    node = SpinningNode("test_control_stack", domain_id=domain)
    server = OpenpiTestServer(horizon=20, offset=0.0, metadata={"cameras": []})  # reads no camera
    procs = []
    try:
        sim = NodeProcess("recap_sim.sim_node", ros_args(["task:=transfer_cube", "cameras:=['none']",
                                                          "real_time_factor:=1.0"]), log_dir)
        procs.append(sim)
        policy = NodeProcess("recap_policy.policy_node", ros_args(
            ["use_sim_time:=true", "backend:=remote", "remote_host:=127.0.0.1", f"remote_port:={server.port}",
             "inference_every:=5", "max_observation_age_s:=0.5", *GRIPPER_PARAMS]), log_dir)
        procs.append(policy)
        arbitration = PtyNodeProcess("recap_teleop.arbitration_node", ros_args(ARBITRATION_PARAMS), log_dir)
        procs.append(arbitration)
        yield Stack(node, server, sim, policy, arbitration)
    finally:
        for proc in reversed(procs):
            code = proc.stop()
            print(f"--- {proc.module} exited {code}; log:\n{proc.log_path.read_text()[-3000:]}")
        server.close()
        node.close()
