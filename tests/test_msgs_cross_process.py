"""recap_msgs over real DDS: an ActionChunk published by another process arrives intact."""
import numpy as np
import pytest

from processes.action_chunk_talker import expected_chunk
from recap_msgs.msg import ActionChunk, EpisodeEvent, InterventionState

pytestmark = pytest.mark.integration


def test_action_chunk_crosses_processes_intact(ros_node, start_process):
    received = ros_node.collect(ActionChunk, "/policy/action_chunk")
    start_process("processes.action_chunk_talker", "--seed", "7")

    msg = received.wait_for(1, timeout=20.0)[0]

    want = expected_chunk(7)
    assert msg.chunk_id == 7
    assert list(msg.joint_names) == list(want.joint_names)
    assert (msg.horizon, msg.action_dim) == (50, 14)
    got_actions = np.asarray(msg.actions, dtype=np.float32).reshape(msg.horizon, msg.action_dim)
    np.testing.assert_array_equal(got_actions, np.asarray(want.actions, np.float32).reshape(50, 14))
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1234, 567_000_000)
    assert msg.control_period.nanosec == 20_000_000
    assert msg.advantage_conditioning == ActionChunk.ADVANTAGE_POSITIVE
    assert msg.guidance_scale == pytest.approx(1.5)
    assert msg.policy_id == "test/seed7"
    assert msg.inference_latency.nanosec == 42_000_000


def test_interfaces_expose_documented_constants():
    assert (EpisodeEvent.START, EpisodeEvent.SUCCESS, EpisodeEvent.FAILURE,
            EpisodeEvent.ABORT, EpisodeEvent.RELABEL) == (0, 1, 2, 3, 4)
    assert InterventionState.SOURCE_LEADER_MOTION == 5
    state = InterventionState(human_in_control=True, source=InterventionState.SOURCE_PEDAL)
    assert state.human_in_control and state.source == 1
