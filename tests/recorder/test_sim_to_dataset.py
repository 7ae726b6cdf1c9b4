"""End to end over real DDS: the simulator (with its simulated operator) -> recorder -> bag ->
converter -> a dataset episode whose proprio, actions and object state come from the sim."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recap_msgs.srv import EndEpisode, ResetSim, StartEpisode
from recap_trainer.bags.build import build_dataset, find_bags
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.dataset import RecapDataset
from recorder.recorder_helpers import call_service, count_partial_messages
from ros_harness import wait_until

pytestmark = pytest.mark.integration


def test_sim_episode_recorded_and_converted(ros_node, start_process, tmp_path):
    bags = tmp_path / "bags"
    start_process("recap_sim.sim_node", "--ros-args", "-p", "cameras:=[none]", "-p", "use_sim_time:=true",
                  "-p", "operator.enabled:=true")
    start_process("recap_recorder.recorder_node", "--ros-args", "-p", f"bag_dir:={bags}",
                  "-p", "min_free_disk_gb:=0.0", "-p", "use_sim_time:=true", "-p", "flush_interval_s:=0.2")
    reset = call_service(ros_node, ResetSim, "/sim/reset", ResetSim.Request(task="transfer_cube", seed=3), 60.0)
    assert reset.success, reset.message
    started = call_service(ros_node, StartEpisode, "/recorder/start_episode",
                           StartEpisode.Request(task_prompt="transfer_cube", episode_id="sim-1"), 60.0)
    assert started.accepted, started.message
    partial = bags / ".incomplete" / "sim-1"
    wait_until(lambda: count_partial_messages(partial).get("/follower_left/joint_states", 0) >= 100
               and count_partial_messages(partial).get("/leader_right/joint_states", 0) >= 100, 90.0,
               "2 s of sim joint states in the bag")
    ended = call_service(ros_node, EndEpisode, "/recorder/end_episode",
                         EndEpisode.Request(outcome=EndEpisode.Request.FAILURE), 60.0)
    assert ended.accepted, ended.message

    # "flag": a sensor message the loaded machine dropped must not shorten the episode under test
    report = build_dataset(find_bags([bags]), tmp_path / "ds",
                           ConverterConfig(cameras=(), image_size=None, stale_policy="flag"), progress=False)
    assert report.converted == [str(Path(ended.bag_path).resolve())], report.failed
    ep = RecapDataset(tmp_path / "ds")[0]
    assert ep.episode_id == "sim-1" and ep.task == "transfer_cube" and ep.outcome == "failure"
    assert ep.source == "demo" and ep.num_steps >= 90  # teleoperated: actions from the leader arms
    np.testing.assert_allclose(np.diff(ep.timestamps), 0.02, atol=1e-9)  # 50 Hz grid in sim time
    assert ep.env_state is not None and ep.env_state.shape[1] == len(ep.metadata["state_names"]) > 0
    assert ((ep.qpos[:, [6, 13]] >= -0.05) & (ep.qpos[:, [6, 13]] <= 1.05)).all()  # grippers normalised
