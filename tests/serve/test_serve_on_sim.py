"""End to end: the sim graph's policy node (backend remote) gets its chunks from `recap serve`'s server."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from policy.tiny_checkpoint import write_tiny_checkpoint
from recap_bringup.deployment import DeploymentConfig, deployment_graph
from recap_bringup.graph_session import GraphSession
from recap_core.aloha_layout import ARM_JOINTS
from recap_model.policy import load_policy
from recap_trainer.serving.recap_adapter import RecapPolicyAdapter
from recap_trainer.serving.server import PolicyServer, ServerConfig

pytestmark = pytest.mark.integration

ARM_TARGET = np.array([0.2, -0.4, 0.5, 0.0, 0.3, 0.0])  # rad, every arm joint of both arms


class CountingPolicy:
    def __init__(self, policy) -> None:
        self.policy, self.chunks = policy, 0

    def __getattr__(self, name: str):
        return getattr(self.policy, name)

    def infer(self, *args):
        self.chunks += 1
        return self.policy.infer(*args)


def left_arm_positions(bag: str) -> np.ndarray:
    from recap_trainer.bags.source import BagSource

    source = BagSource(bag)
    rows = []
    for topic, _t, raw in source.messages({"/follower_left/joint_states"}):
        msg = source.deserialize(raw, topic)
        rows.append([msg.position[list(msg.name).index(j)] for j in ARM_JOINTS])
    return np.asarray(rows)


def test_the_policy_node_moves_the_sim_arms_with_chunks_from_the_server(tmp_path):
    target = np.concatenate([ARM_TARGET, [0.5], ARM_TARGET, [0.5]])
    checkpoint = write_tiny_checkpoint(tmp_path / "policy", action_mean=target)  # chunks ~ target +- 0.01
    policy = CountingPolicy(load_policy(checkpoint))
    cfg = DeploymentConfig(task="transfer_cube", prompt="transfer", episodes=1, first_seed=1, wall_timeout_s=4.0,
                           operator=False)  # no human corrections
    with PolicyServer(RecapPolicyAdapter(policy), ServerConfig(port=0)) as server:
        remote = {"backend": "remote", "remote_host": "127.0.0.1", "remote_port": server.port}
        specs = [dataclasses.replace(s, parameters={**s.parameters, **remote}) if s.name == "policy_node" else s
                 for s in deployment_graph(checkpoint, tmp_path / "bags", cfg)]
        with GraphSession(specs, tmp_path / "logs") as session:
            result = session.run_episode("transfer_cube", 1, "transfer", wall_timeout_s=4.0)
    assert result.failure_reason == "wall-clock timeout" and policy.chunks >= 5
    arm = left_arm_positions(result.bag_path)
    start, end = np.abs(arm[0] - ARM_TARGET).max(), np.abs(arm[-1] - ARM_TARGET).max()
    assert start > 0.2 and end < 0.1, (arm[0], arm[-1])  # the arms went to where the served chunks say
