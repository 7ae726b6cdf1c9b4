"""The console model (ROS-free): every action, its preconditions, the replies, the view."""
from __future__ import annotations

import pytest

from recap_teleop.console_input import Action
from recap_teleop.console_requests import (EndEpisode, Quit, RelabelEpisode, ResetHome, SetEstop, SetTakeover,
                                           StartEpisode)
from recap_teleop.console_state import ConsoleConfig, ConsoleModel, Mode
from recap_teleop.takeover import Source

CONFIG = ConsoleConfig("transfer the cube", home_seed=7, service_timeout_s=5.0, state_timeout_s=3.0,
                       relabel_window_s=60.0, policy_timeout_s=1.0)


def owned(now: float = 0.0) -> ConsoleModel:
    model = ConsoleModel(CONFIG, now)
    model.set_control(True, "me", observer=False, listening=False)
    return model


def policy_state(model: ConsoleModel, now: float, human: bool = False, source: int = Source.NONE,
                 detail: str = "policy in control", episode_id: str = "") -> None:
    model.intervention(now, human, int(source), detail, episode_id, 0)


def recording(model: ConsoleModel, now: float = 1.0, episode_id: str = "ep-1") -> None:
    request = model.plan(Action.START, now)
    model.replied(request, now, True, "recording to bags/.incomplete/ep-1", episode_id=episode_id)


def test_config_refuses_an_empty_task_and_bad_timeouts():
    with pytest.raises(ValueError, match="task_prompt is empty.*--task"):
        ConsoleConfig("  ")
    with pytest.raises(ValueError, match="service_timeout_s must be positive, got 0"):
        ConsoleConfig("t", service_timeout_s=0)
    with pytest.raises(ValueError, match="home_seed must be >= 0, got -1"):
        ConsoleConfig("t", home_seed=-1)


def test_start_sends_the_task_and_the_reply_starts_the_timer():
    model = owned()
    assert model.plan(Action.START, 1.0) == StartEpisode("transfer the cube")
    assert model.view(1.5).pending == ("/recorder",)
    model.replied(StartEpisode("transfer the cube"), 2.0, True, "recording to x", episode_id="ep-1")
    view = model.view(14.0)
    assert view.recording.episode_id == "ep-1" and view.elapsed_s == pytest.approx(12.0)
    assert view.episodes_started == 1 and view.pending == ()
    assert "episode ep-1 started" in view.messages[0]


def test_start_refused_while_recording_while_pending_and_under_estop():
    model = owned()
    model.plan(Action.START, 1.0)
    assert model.plan(Action.START, 1.1) is None
    assert model.view(1.1).messages[0] == "start episode refused: waiting for /recorder to answer the previous request"
    model.replied(StartEpisode("transfer the cube"), 1.2, True, "", episode_id="ep-1")
    assert model.plan(Action.START, 2.0) is None
    assert "episode ep-1 is recording: stop it first ('y' success, 'n' failure, 'a' abort)" in model.view(2).messages[0]
    model.replied(EndEpisode("ep-1", "success"), 3.0, True, "", bag_path="bags/ep-1")
    model.estop(True)
    assert model.plan(Action.START, 4.0) is None
    assert "the e-stop is engaged: release it first ('u')" in model.view(4).messages[0]


def test_a_refused_start_is_shown_and_not_recording():
    model = owned()
    request = model.plan(Action.START, 1.0)
    model.replied(request, 1.5, False, "free disk 0.40 GB below 2.00 GB")
    view = model.view(2.0)
    assert view.recording is None and view.pending == ()
    assert view.messages[0] == "start episode failed: free disk 0.40 GB below 2.00 GB"


@pytest.mark.parametrize("action,outcome", [(Action.SUCCESS, "success"), (Action.FAILURE, "failure"),
                                            (Action.ABORT, "abort")])
def test_stop_labels_the_recording_episode(action, outcome):
    model = owned()
    recording(model)
    assert model.plan(action, 5.0) == EndEpisode("ep-1", outcome)
    model.replied(EndEpisode("ep-1", outcome), 5.5, True, "saved", bag_path="bags/ep-1", detected_drops=2)
    view = model.view(6.0)
    assert view.recording is None
    assert view.last_ended.outcome == outcome and view.last_ended.detected_drops == 2
    assert view.outcome_counts[outcome] == 1
    assert view.messages[0] == f"episode ep-1 ended: {outcome}; 2 dropped messages -> bags/ep-1"


def test_no_label_without_a_running_or_just_ended_episode():
    model = owned()
    for action in (Action.SUCCESS, Action.FAILURE, Action.ABORT):
        assert model.plan(action, 1.0) is None
    assert model.view(1.0).messages[0] == ("abort episode refused: no episode to label: none is recording and "
                                           "none has ended since this console started")


def test_a_just_ended_episode_is_relabelled_within_the_window_only():
    model = owned()
    recording(model)
    model.replied(model.plan(Action.SUCCESS, 5.0), 5.0, True, "", bag_path="bags/ep-1")
    assert model.plan(Action.SUCCESS, 6.0) is None
    assert "episode ep-1 is already labelled success" in model.view(6.0).messages[0]
    request = model.plan(Action.FAILURE, 7.0)
    assert request == RelabelEpisode("ep-1", "failure")
    model.replied(request, 7.5, True, "episode ep-1 relabelled success -> failure")
    view = model.view(8.0)
    assert view.last_ended.outcome == "failure" and view.outcome_counts == {"success": 0, "failure": 1, "abort": 0}
    assert model.plan(Action.ABORT, 5.0 + 61.0) is None
    assert "ended 61 s ago (relabel window 60 s)" in model.view(66.0).messages[0]


def test_episode_events_from_other_starters_are_followed():
    model = owned()
    model.episode_started(1.0, "ep-7", "fold the towel")
    assert model.view(3.0).recording.task == "fold the towel"
    model.episode_started(2.0, "ep-7", "fold the towel")  # the same episode again (reply + event)
    assert model.view(3.0).elapsed_s == pytest.approx(2.0) and model.view(3.0).episodes_started == 1
    model.episode_ended(4.0, "ep-7", "failure")
    model.episode_relabelled("ep-7", "success")
    view = model.view(5.0)
    assert view.recording is None and view.last_ended.outcome == "success"
    assert view.outcome_counts == {"success": 1, "failure": 0, "abort": 0}


def test_a_recording_episode_is_learnt_from_the_latched_intervention_state():
    model = owned()
    policy_state(model, 1.0, episode_id="ep-3")
    view = model.view(1.0)
    assert view.recording.episode_id == "ep-3" and view.elapsed_s is None
    assert model.plan(Action.FAILURE, 2.0) == EndEpisode("ep-3", "failure")


def test_takeover_toggles_and_needs_a_live_arbitration_node():
    model = owned()
    assert model.plan(Action.TAKEOVER, 1.0) is None
    assert "no /intervention_state yet: is the arbitration node running?" in model.view(1.0).messages[0]
    policy_state(model, 1.0)
    assert model.plan(Action.TAKEOVER, 2.0) == SetTakeover(True)
    assert model.plan(Action.TAKEOVER, 2.1) is None  # the first one has not been answered
    model.replied(SetTakeover(True), 2.2, False, "takeover by service refused: leader differs by 1.00 rad")
    assert model.view(2.2).messages[0] == ("take over failed: takeover by service refused: leader differs by "
                                           "1.00 rad")
    policy_state(model, 3.0, human=True, source=Source.SERVICE, detail="human in control (service)")
    assert model.plan(Action.TAKEOVER, 4.0) == SetTakeover(False)
    model.replied(SetTakeover(False), 4.1, True, "handed back")
    assert model.plan(Action.TAKEOVER, 3.0 + 3.5) is None
    assert "the arbitration node is silent: no /intervention_state for 4 s" in model.view(6.5).messages[0]


def test_estop_works_from_any_console_release_only_in_control_and_engaged():
    model = ConsoleModel(CONFIG, 0.0)
    model.set_control(False, "other:1", observer=False, listening=False)
    assert model.plan(Action.ESTOP, 1.0) == SetEstop(True)
    assert model.plan(Action.RELEASE_ESTOP, 1.0) is None
    assert "read-only: console other:1 is in control" in model.view(1.0).messages[0]
    model = owned()
    assert model.plan(Action.RELEASE_ESTOP, 1.0) is None
    assert "the e-stop is not engaged" in model.view(1.0).messages[0]
    model.estop(True)
    assert model.plan(Action.RELEASE_ESTOP, 2.0) == SetEstop(False)


def test_home_resets_the_sim_only_between_episodes():
    model = owned()
    recording(model)
    assert model.plan(Action.HOME, 2.0) is None
    assert "episode ep-1 is recording: stop it first" in model.view(2.0).messages[0]
    model.replied(model.plan(Action.ABORT, 3.0), 3.0, True, "", bag_path="b")
    assert model.plan(Action.HOME, 4.0) == ResetHome(7)
    model.replied(ResetHome(7), 4.5, True, "reset to transfer_cube seed 7")
    assert model.view(5.0).messages[0] == "reset to transfer_cube seed 7"


def test_read_only_console_refuses_everything_but_estop_and_quit():
    model = ConsoleModel(CONFIG, 0.0)
    model.set_control(False, None, observer=False, listening=True)
    policy_state(model, 0.5)
    for action in (Action.START, Action.SUCCESS, Action.FAILURE, Action.ABORT, Action.TAKEOVER, Action.HOME,
                   Action.RELEASE_ESTOP):
        assert model.plan(action, 1.0) is None, action
        assert model.view(1.0).messages[0] == f"{action.value} refused: read-only: checking for another console"
    assert model.plan(Action.QUIT, 1.0) == Quit()
    assert model.plan(Action.ESTOP, 1.0) == SetEstop(True)


def test_an_unanswered_request_expires_and_frees_its_channel():
    model = owned()
    model.plan(Action.START, 1.0)
    assert model.expire(5.9) == []
    assert model.expire(6.1) == [StartEpisode("transfer the cube")]
    assert model.view(6.1).messages[0] == "start episode: no answer from /recorder within 5 s"
    assert model.plan(Action.START, 6.2) == StartEpisode("transfer the cube")


def test_mode_policy_human_hold_and_unknown():
    model = owned()
    assert model.view(0.0).mode is Mode.UNKNOWN
    policy_state(model, 1.0)
    assert model.view(1.0).mode is Mode.POLICY
    policy_state(model, 2.0, human=True, source=Source.PEDAL, detail="human in control (pedal)")
    assert (model.view(2.0).mode, model.view(2.0).mode_detail) == (Mode.HUMAN, "human in control (pedal)")
    policy_state(model, 3.0, source=Source.SAFETY, detail="watchdog: no fresh command for 0.25 s")
    assert (model.view(3.0).mode, model.view(3.0).mode_detail) == (Mode.HOLD, "watchdog: no fresh command for 0.25 s")
    policy_state(model, 4.0)
    model.estop(True)
    assert (model.view(4.0).mode, model.view(4.0).mode_detail) == (Mode.HOLD, "e-stop engaged")
    model.estop(False)
    assert model.view(7.5).mode is Mode.UNKNOWN and "arbitration node silent for 4 s" in model.view(7.5).mode_detail


def test_policy_latency_and_silence():
    model = owned()
    assert model.view(0.0).policy == "no action chunk yet"
    model.policy_chunk(1.0, 0.012, 0.034, "recap/iter1@abc")
    assert model.view(1.5).policy == "recap/iter1@abc: inference 12 ms, chunk age at arrival 34 ms"
    model.policy_chunk(2.0, 0.012, None, "recap/iter1@abc")
    assert model.view(2.5).policy == "recap/iter1@abc: inference 12 ms"
    assert model.view(3.5).policy == "silent for 1.5 s (last chunk from recap/iter1@abc)"


def test_operator_messages_are_logged_too():
    logged = []
    model = ConsoleModel(CONFIG, 0.0, log=logged.append)
    model.plan(Action.START, 1.0)
    assert logged == ["start episode refused: checking for another console"]


def test_the_view_shows_the_recorder_policy_latency_and_watchdog_from_diagnostics():
    model = owned()
    view = model.view(0.0)
    assert view.recorder == "no /diagnostics from episode_recorder"
    assert view.latency == "no /diagnostics from policy_node" and view.watchdog == "no /diagnostics from arbitration_node"
    model.diagnostic(1.0, "episode_recorder: episode", "recording ep-7",
                     {"recording": "true", "episode_id": "ep-7", "episode_elapsed_s": "75.4", "drops": "2"})
    model.diagnostic(1.0, "episode_recorder: bags", "ok", {"episodes_recorded": "5", "bag_dir": "/data/bags"})
    model.diagnostic(1.0, "policy_node: inference", "ok", {"latency_p50_ms": "12.3", "latency_p99_ms": "30.9",
                                                           "command_rate_hz": "49.8"})
    model.diagnostic(1.0, "arbitration_node: watchdog", "ok", {"watchdog": "ok"})
    model.diagnostic(1.0, "somebody_else: thing", "ok", {"recording": "false"})  # other nodes are not shown
    view = model.view(1.5)
    assert view.recorder == "recording ep-7 01:15, 2 drops; 5 episodes recorded in /data/bags"
    assert view.latency == "p50 12 ms, p99 31 ms, 50 commands/s"
    assert view.watchdog == "ok"
    model.diagnostic(2.0, "arbitration_node: watchdog", "held",
                     {"watchdog": "watchdog: last command 0.300 s old (timeout 0.200 s)"})
    model.diagnostic(2.0, "episode_recorder: episode", "idle", {"recording": "false"})
    view = model.view(2.5)
    assert view.watchdog == "HOLD: watchdog: last command 0.300 s old (timeout 0.200 s)"
    assert view.recorder == "idle, 5 episodes recorded in /data/bags"
    assert model.view(6.0).recorder == "episode_recorder silent on /diagnostics for 4 s"


def test_the_screen_shows_the_diagnostics_lines():
    from recap_teleop.console_ui import render_lines
    model = owned()
    model.diagnostic(1.0, "arbitration_node: watchdog", "held", {"watchdog": "e-stop engaged: /estop is true"})
    lines = render_lines(model.view(1.0), {})
    assert "watchdog: HOLD: e-stop engaged: /estop is true" in lines
    assert any(line.startswith("recorder: ") for line in lines) and any("policy latency: " in l for l in lines)
