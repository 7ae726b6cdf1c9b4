"""The simulated operator's takeover / hand-back rule, driven by synthetic signals."""
import math

import numpy as np
import pytest

from recap_sim.operator_policy import Mode, Operator, OperatorDecision, OperatorSignals, TakeoverRule

DT = 0.02
STILL = np.zeros(14)


def run(op, t0, t1, stage=0, done=False, qpos=None, deviation=None, moving=False):
    """Tick from t0 to t1 (exclusive); returns [(t, decision)] of ticks that sent a request."""
    events = []
    for k in range(int(round((t1 - t0) / DT))):
        t = t0 + k * DT
        q = qpos if qpos is not None else (STILL + 0.1 * math.sin(5 * t) if moving else STILL)
        d = op.update(OperatorSignals(t, stage, done, q, deviation))
        if d.request is not None:
            events.append((t, d))
    return events


def no_other_triggers(**kw):
    base = dict(stall_timeout_s=math.inf, stage_time_limit_s=math.inf, deviation_threshold=math.inf)
    return TakeoverRule(**{**base, **kw})


def test_stall_triggers_takeover_after_the_timeout():
    op = Operator(no_other_triggers(stall_timeout_s=2.0))
    op.new_episode(0.0)
    events = run(op, 0.0, 2.04)
    assert len(events) == 1
    t, d = events[0]
    assert t == pytest.approx(2.0, abs=DT) and d.request is True and d.reason.startswith("stall")
    assert d.mode is Mode.ENGAGE


def test_a_moving_follower_is_not_stalled():
    op = Operator(no_other_triggers(stall_timeout_s=1.0))
    op.new_episode(0.0)
    assert run(op, 0.0, 5.0, moving=True) == []


def test_stage_progress_restarts_the_stall_timer():
    op = Operator(no_other_triggers(stall_timeout_s=1.0))
    op.new_episode(0.0)
    assert run(op, 0.0, 0.9, stage=0) == []
    assert run(op, 0.9, 1.8, stage=1) == []
    events = run(op, 1.8, 2.5, stage=1)
    assert events and events[0][0] == pytest.approx(1.9, abs=DT)


def test_stage_timer_fires_even_while_moving():
    op = Operator(no_other_triggers(stage_time_limit_s=3.0))
    op.new_episode(0.0)
    events = run(op, 0.0, 4.0, moving=True)
    assert len(events) == 1 and events[0][0] == pytest.approx(3.0, abs=DT)
    assert events[0][1].reason.startswith("stage timer")


def test_deviation_must_persist():
    op = Operator(no_other_triggers(deviation_threshold=0.5, deviation_duration_s=1.0))
    op.new_episode(0.0)
    # Alternating above/below the threshold never persists for 1 s.
    for k in range(200):
        d = op.update(OperatorSignals(k * DT, 0, False, STILL, 0.9 if (k // 20) % 2 == 0 else 0.1))
        assert d.request is None
    events = run(op, 4.0, 6.0, deviation=0.9)
    assert len(events) == 1 and events[0][0] == pytest.approx(5.0, abs=DT)
    assert events[0][1].reason.startswith("deviation")


def test_unknown_deviation_does_not_trigger():
    op = Operator(no_other_triggers(deviation_threshold=0.5, deviation_duration_s=0.1))
    op.new_episode(0.0)
    assert run(op, 0.0, 2.0, deviation=None) == []


def test_engage_then_correct_then_hand_back_on_stage_progress():
    op = Operator(no_other_triggers(stall_timeout_s=1.0, engage_s=0.2, min_correction_s=0.5, max_correction_s=5.0))
    op.new_episode(0.0)
    assert len(run(op, 0.0, 1.02)) == 1  # takeover at t = 1.0
    assert op.update(OperatorSignals(1.1, 0, False, STILL)).mode is Mode.ENGAGE
    assert op.update(OperatorSignals(1.25, 0, False, STILL)).mode is Mode.CORRECT
    # The stage advances before min_correction_s: keep correcting.
    assert op.update(OperatorSignals(1.3, 1, False, STILL)).request is None
    # Stage advanced and 0.5 s corrected: hold the leader still for engage_s, then hand back.
    assert op.update(OperatorSignals(1.5, 1, False, STILL)) == OperatorDecision(Mode.RELEASE)
    assert op.update(OperatorSignals(1.65, 1, False, STILL)).mode is Mode.RELEASE
    d = op.update(OperatorSignals(1.75, 1, False, STILL))
    assert d.request is False and d.mode is Mode.WATCH and "stage advanced to 1" in d.reason


def test_hand_back_after_max_correction_without_progress():
    op = Operator(no_other_triggers(stall_timeout_s=1.0, max_correction_s=2.0))
    op.new_episode(0.0)
    events = run(op, 0.0, 3.5)
    assert [d.request for _, d in events] == [True, False]
    # 2 s of correction, then engage_s (0.1 s) of release before the hand-back.
    assert events[1][0] == pytest.approx(3.1, abs=DT) and "corrected for 2 s" in events[1][1].reason


def test_timers_restart_after_hand_back():
    op = Operator(no_other_triggers(stall_timeout_s=1.0, max_correction_s=2.0, max_takeovers_per_episode=5,
                                    engage_s=0.0))
    op.new_episode(0.0)
    events = run(op, 0.0, 5.5)
    # take over at 1, hand back at 3, the next stall only 1 s after hand-back (4), hand back at 6.
    assert [(round(t, 2), d.request) for t, d in events] == [(1.0, True), (3.0, False), (4.0, True)]


def test_episode_end_hands_back_and_stops_takeovers():
    op = Operator(no_other_triggers(stall_timeout_s=1.0))
    op.new_episode(0.0)
    run(op, 0.0, 1.1)
    assert op.mode is not Mode.WATCH
    assert op.update(OperatorSignals(1.2, 0, True, STILL)).mode is Mode.RELEASE
    d = op.update(OperatorSignals(1.4, 0, True, STILL))
    assert d.request is False and d.reason == "the episode ended"
    assert run(op, 1.42, 5.0, done=True) == []


def test_max_takeovers_per_episode_and_reset_per_episode():
    op = Operator(no_other_triggers(stall_timeout_s=0.5, max_correction_s=0.5, min_correction_s=0.0, max_takeovers_per_episode=2))
    op.new_episode(0.0)
    events = run(op, 0.0, 10.0)
    assert sum(d.request is True for _, d in events) == 2 and op.takeovers == 2
    op.new_episode(10.0)
    assert sum(d.request is True for _, d in run(op, 10.0, 11.0)) == 1


def test_zero_max_takeovers_never_takes_over():
    op = Operator(no_other_triggers(stall_timeout_s=0.5, max_takeovers_per_episode=0))
    op.new_episode(0.0)
    assert run(op, 0.0, 5.0) == []


def count_takeovers(rule, episode_seed):
    op = Operator(rule)
    op.new_episode(0.0, seed=episode_seed)
    return [round(t, 2) for t, d in run(op, 0.0, 30.0) if d.request]


def test_takeover_probability_is_seeded_and_declines_restart_the_timer():
    rule = no_other_triggers(stall_timeout_s=1.0, max_correction_s=0.5, min_correction_s=0.0, takeover_probability=0.3,
                             max_takeovers_per_episode=100)
    runs = {seed: count_takeovers(rule, seed) for seed in range(8)}
    assert runs[3] == count_takeovers(rule, 3)  # reproducible
    assert len({tuple(v) for v in runs.values()}) > 1  # but differs between episodes
    counts = [len(v) for v in runs.values()]
    always = len(count_takeovers(no_other_triggers(stall_timeout_s=1.0, max_correction_s=0.5, min_correction_s=0.0,
                                                   max_takeovers_per_episode=100), 0))
    assert 0 < np.mean(counts) < always
    # Declined triggers restart the timer: takeovers only ever happen on whole-second ticks after
    # the previous event, never on consecutive ticks.
    for times in runs.values():
        assert all(b - a >= 0.5 - 1e-9 for a, b in zip(times, times[1:]))


def test_probability_zero_never_takes_over():
    assert count_takeovers(no_other_triggers(stall_timeout_s=1.0, takeover_probability=0.0), 0) == []


@pytest.mark.parametrize("kwargs", [
    {"stall_timeout_s": 0.0}, {"stage_time_limit_s": -1.0}, {"deviation_threshold": math.nan},
    {"min_correction_s": 3.0, "max_correction_s": 2.0}, {"max_takeovers_per_episode": -1},
    {"takeover_probability": 1.5}, {"engage_s": -0.1}, {"seed": -1},
])
def test_invalid_rules_are_refused(kwargs):
    with pytest.raises(ValueError, match="TakeoverRule"):
        TakeoverRule(**kwargs)


def operator_values(**overrides):
    from recap_sim.operator_parameters import OPERATOR_PARAMETERS
    return {**{k: default for k, (default, _) in OPERATOR_PARAMETERS.items()}, **overrides}


def test_operator_parameters_defaults_build_the_default_rule_with_deviation_off():
    from recap_sim.operator_parameters import operator_settings
    settings = operator_settings(operator_values())
    assert not settings.enabled
    assert settings.rule == TakeoverRule(deviation_threshold=math.inf)


def test_operator_parameters_zero_disables_a_trigger():
    from recap_sim.operator_parameters import operator_settings
    rule = operator_settings(operator_values(stall_timeout_s=0.0, stage_time_limit_s=0.0,
                                             deviation_threshold=0.4)).rule
    assert (rule.stall_timeout_s, rule.stage_time_limit_s, rule.deviation_threshold) == (math.inf, math.inf, 0.4)


@pytest.mark.parametrize("overrides, match", [
    ({"takeover_probability": 2.0}, "takeover_probability"),
    ({"leader_gripper_closed": 0.05, "leader_gripper_open": 0.05}, "gripper calibration"),
    ({"expert_speed": 0.0}, "speed"),
])
def test_bad_operator_parameters_are_refused(overrides, match):
    from recap_sim.operator_parameters import operator_settings
    with pytest.raises(ValueError, match=match):
        operator_settings(operator_values(**overrides))
