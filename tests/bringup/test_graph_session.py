"""The loop's deployments through the real ROS graph: failures are handled, nothing is lost."""
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from policy.tiny_checkpoint import write_tiny_checkpoint
from recap_bringup.graph import RequiredTopic
from recap_bringup.graph_session import GraphSession, GraphStopped
from recap_bringup.deployment import DeploymentConfig, deploy, deployment_graph

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "policy")


def graph(checkpoint, bags, **recorder):
    # No simulated operator: it would take over from the untrained policy and could end an episode
    # within the 3 s these tests rely on to reach the wall-clock timeout.
    cfg = DeploymentConfig(task="transfer_cube", prompt="transfer", episodes=1, first_seed=1, wall_timeout_s=3.0,
                           operator=False)
    return [replace(s, parameters={**s.parameters, **recorder}) if s.name == "episode_recorder" else s
            for s in deployment_graph(checkpoint, bags, cfg)]


def test_episodes_are_recorded_and_a_crashed_policy_node_is_restarted(checkpoint, tmp_path):
    with GraphSession(graph(checkpoint, tmp_path / "bags"), tmp_path / "logs") as session:
        first = session.run_episode("transfer_cube", 1, "transfer", wall_timeout_s=3.0)
        assert first.outcome == "abort" and first.failure_reason == "wall-clock timeout"
        assert (Path(first.bag_path) / "episode.json").is_file()
        # The sim waited for the recorder: the bag's first joint state is the start state (elapsed 0),
        # published on resume; before the pause the first ticks of every episode were lost.
        states = first_messages(first.bag_path, "/sim/task_state")
        start_stamps = [m.header.stamp for m in states if m.seed == 1 and m.elapsed.sec == m.elapsed.nanosec == 0]
        assert first_messages(first.bag_path, "/follower_left/joint_states")[0].header.stamp in start_stamps

        session.group.procs["policy_node"].send_signal(signal.SIGKILL)
        session.group.procs["policy_node"].wait(timeout=10)
        second = session.run_episode("transfer_cube", 2, "transfer", wall_timeout_s=3.0)
        assert session.restarts.get("policy_node") == 1  # others too if one crashed on its own (its log says where)
        assert second.episode_id != first.episode_id and (Path(second.bag_path) / "episode.json").is_file()
        assert "policy_node" in session.pids()


def first_messages(bag: str, topic: str, n: int = 3) -> list:
    from recap_trainer.bags.source import BagSource

    source = BagSource(bag)
    out = []
    for _topic, _t, raw in source.messages({topic}):
        out.append(source.deserialize(raw, topic))
        if len(out) == n:
            break
    return out


def test_a_recorder_short_of_disk_stops_the_graph_before_any_episode(checkpoint, tmp_path):
    specs = graph(checkpoint, tmp_path / "bags", min_free_disk_gb=1e9)
    with pytest.raises(GraphStopped, match="episode_recorder failed to configure: free disk .* below min_free_disk_gb"):
        with GraphSession(specs, tmp_path / "logs"):
            pass
    assert not list((tmp_path / "bags").glob("*/episode.json"))


def test_a_topic_nobody_publishes_is_named_at_startup(checkpoint, tmp_path):
    specs = graph(checkpoint, tmp_path / "bags")
    nowhere = RequiredTopic("/cam_nowhere/image_raw", "sensor_msgs/msg/Image")
    specs = [replace(s, required_topics=(nowhere,)) if s.name == "policy_node" else s for s in specs]
    with pytest.raises(GraphStopped, match="policy_node needs /cam_nowhere/image_raw, but nothing publishes it"):
        with GraphSession(specs, tmp_path / "logs", startup_timeout_s=15.0):
            pass


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    cfg = DeploymentConfig(task="transfer_cube", prompt="t", episodes=1, first_seed=1, wall_timeout_s=3.0)
    with pytest.raises(FileNotFoundError, match="no policy checkpoint at"):
        deploy(tmp_path / "nope", tmp_path / "bags", tmp_path / "logs", cfg, [0], lambda i, result: None)
