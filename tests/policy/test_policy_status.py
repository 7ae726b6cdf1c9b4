"""The policy node's /diagnostics statuses carry the keys the operator's console reads."""
import pytest

from recap_core.diagnostics import Level
from recap_policy.policy_status import LatencyWindow, commands_status, inference_status


def test_inference_status_gives_latency_percentiles_and_chunks():
    window = LatencyWindow(size=100)
    status = inference_status("policy_node: inference", window, "p")
    assert status.level == Level.OK and status.values["chunks"] == 0 and status.values["latency_p50_ms"] == 0.0
    for ms in range(1, 101):
        window.chunk(ms / 1000)
    status = inference_status("policy_node: inference", window, "p")
    assert status.values["latency_p50_ms"] == pytest.approx(50.5)
    assert status.values["latency_p99_ms"] == pytest.approx(99.01)
    assert status.values["chunks"] == 100 and status.level == Level.OK
    window.rejected += 1
    assert inference_status("n", window, "p").level == Level.WARN


def test_commands_status_names_the_stale_inputs_while_active():
    ok = commands_status("policy_node: commands", True, 49.8, None, 50.0)
    assert ok.level == Level.OK and ok.values == {"command_rate_hz": 49.8, "stale_inputs": "", "active": True,
                                                  "starting_episode": False}
    stale = commands_status("policy_node: commands", True, 50.0, "/cam_high/image_raw is 0.400 s old", 50.0)
    assert stale.level == Level.WARN and stale.values["stale_inputs"] == "/cam_high/image_raw is 0.400 s old"
    assert commands_status("n", False, 0.0, None, 50.0).level == Level.OK


def test_commands_status_waiting_for_a_new_episodes_first_frames_is_not_a_warning():
    why = "nothing on /cam_high/image_raw since the episode began 0.020 s ago"
    starting = commands_status("policy_node: commands", True, 50.0, why, 50.0, starting_episode=True)
    assert starting.level == Level.OK and starting.values["starting_episode"] is True
    assert starting.values["stale_inputs"] == why and why in starting.message
    # fresh inputs: nothing is waited for, whatever the caller passed
    assert commands_status("n", True, 50.0, None, 50.0, starting_episode=True).values["starting_episode"] is False
