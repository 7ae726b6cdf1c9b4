"""Chunk schedulers (plain, ACT temporal ensembling, real-time chunking) and the delay estimator."""
import numpy as np
import pytest

from recap_model.chunk_scheduling import (DelayEstimator, DelayEstimatorConfig, SchedulerConfig, TimedChunk,
                                           make_scheduler)

D = 14


def ramp(start: float, h: int = 10, slope: float = 0.01) -> np.ndarray:
    """(H, D): every joint at start + slope * h."""
    return np.repeat((start + slope * np.arange(h))[:, None], D, axis=1)


def run(scheduler, ticks):
    return np.stack([scheduler.command(t) for t in ticks])


def test_plain_executes_rows_at_their_ticks_skipping_the_past():
    s = make_scheduler(SchedulerConfig(kind="plain", max_step=1.0))
    s.add_chunk(TimedChunk(ramp(0.0), start_tick=5), tick=7)
    out = run(s, range(7, 10))
    np.testing.assert_allclose(out[:, 0], [0.02, 0.03, 0.04])


def test_no_chunk_means_no_command_and_an_exhausted_chunk_holds():
    s = make_scheduler(SchedulerConfig(kind="plain", max_step=1.0, execution_horizon=3))
    assert s.command(0) is None
    s.add_chunk(TimedChunk(ramp(0.0), 0), 0)
    out = run(s, range(6))
    np.testing.assert_allclose(out[:, 0], [0.0, 0.01, 0.02, 0.02, 0.02, 0.02])


@pytest.mark.parametrize("kind", ["plain", "ensemble", "rtc"])
def test_switching_to_a_distant_chunk_never_jumps_more_than_max_step(kind):
    cfg = SchedulerConfig(kind=kind, max_step=0.05, blend_steps=0)
    s = make_scheduler(cfg)
    s.add_chunk(TimedChunk(ramp(0.0, 50), 0), 0)
    prev = s.command(0)
    for t in range(1, 90):
        if t == 10:
            s.add_chunk(TimedChunk(ramp(2.0, 100), 8), t)  # independently sampled, 2 rad away
        cmd = s.command(t)
        assert np.abs(cmd - prev).max() <= cfg.max_step + 1e-12
        prev = cmd
    assert prev[0] == pytest.approx(2.0 + 0.01 * (89 - 8), abs=1e-9)  # it caught up


def test_plain_cross_fades_over_blend_steps():
    s = make_scheduler(SchedulerConfig(kind="plain", max_step=10.0, blend_steps=3))
    s.add_chunk(TimedChunk(np.zeros((20, D)), 0), 0)
    s.command(0)
    s.add_chunk(TimedChunk(np.ones((20, D)), 0), 1)
    out = run(s, range(1, 6))[:, 0]
    np.testing.assert_allclose(out, [0.25, 0.5, 0.75, 1.0, 1.0])


def test_ensemble_weights_older_chunks_by_exp_minus_m_i():
    m = 0.5
    s = make_scheduler(SchedulerConfig(kind="ensemble", max_step=10.0, ensemble_decay=m))
    s.add_chunk(TimedChunk(np.zeros((10, D)), 0), 0)
    s.add_chunk(TimedChunk(np.ones((10, D)), 2), 2)
    w0, w1 = 1.0, np.exp(-m)
    assert s.command(1)[0] == 0.0  # only the first chunk covers tick 1
    assert s.command(3)[0] == pytest.approx(w1 / (w0 + w1))
    # Past the first chunk's horizon only the second remains.
    assert s.command(10)[0] == pytest.approx(1.0)


def test_rtc_prefix_is_what_executes_during_inference_and_is_kept_in_the_new_chunk():
    s = make_scheduler(SchedulerConfig(kind="rtc", max_step=10.0, blend_steps=0))
    old = ramp(0.0, 20)
    s.add_chunk(TimedChunk(old, 0), 0)
    for t in range(5):
        s.command(t)
    prefix = s.frozen_prefix(obs_tick=5, delay=3)
    np.testing.assert_allclose(prefix, old[5:8])
    model_output = ramp(5.0, 20)  # a model that ignored the prefix: the scheduler still keeps it
    s.add_chunk(TimedChunk(model_output, 5, prefix), tick=7)
    out = run(s, range(5, 12))[:, 0]
    np.testing.assert_allclose(out[:3], old[5:8, 0])  # the committed rows, as committed
    np.testing.assert_allclose(out[3:], model_output[3:7, 0])


def test_rtc_with_a_consistent_inpainting_is_seamless():
    s = make_scheduler(SchedulerConfig(kind="rtc", max_step=0.02, blend_steps=5))
    plan = ramp(0.0, 60)
    s.add_chunk(TimedChunk(plan[:30], 0), 0)
    cmds = [s.command(t) for t in range(10)]
    prefix = s.frozen_prefix(10, 4)
    new = plan[10:40].copy()  # the inpainted continuation of the same motion
    s.add_chunk(TimedChunk(new, 10, prefix), 13)
    cmds += [s.command(t) for t in range(10, 30)]
    np.testing.assert_allclose(np.stack(cmds)[:, 0], plan[:30, 0])


def test_rtc_prefix_is_truncated_to_what_the_plan_covers():
    s = make_scheduler(SchedulerConfig(kind="rtc"))
    assert s.frozen_prefix(0, 3) is None
    s.add_chunk(TimedChunk(ramp(0.0, 5), 0), 0)
    assert s.frozen_prefix(3, 4).shape == (2, D)


def test_drop_plan_keeps_holding_the_last_command():
    s = make_scheduler(SchedulerConfig(kind="plain", max_step=1.0))
    s.add_chunk(TimedChunk(ramp(0.0), 0), 0)
    last = s.command(3)
    s.drop_plan()
    np.testing.assert_allclose(s.command(4), last)
    np.testing.assert_allclose(s.held(), last)


def test_nan_chunks_cannot_be_scheduled():
    bad = ramp(0.0)
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TimedChunk(bad, 0)


def test_unknown_scheduler_is_named():
    with pytest.raises(ValueError, match="plain, ensemble, rtc"):
        SchedulerConfig(kind="fancy")


def test_delay_estimator_ignores_the_cold_start_and_tracks_a_high_percentile():
    est = DelayEstimator(DelayEstimatorConfig(window=20, percentile=90, discard_first=1, initial_delay_s=0.05,
                                              margin_ticks=1))
    assert est.estimate_s() == 0.05
    est.add(3.0)  # first inference: lazy initialisation
    assert est.estimate_s() == 0.05
    for _ in range(19):
        est.add(0.06)
    est.add(0.5)  # one later spike in a full window does not move a p90
    assert est.estimate_s() == pytest.approx(0.06)
    assert est.delay_ticks(0.02, horizon=50) == 3 + 1
    for _ in range(20):
        est.add(2.0)
    assert est.delay_ticks(0.02, horizon=50) == 49  # never more than H - 1


def test_delay_estimator_skips_non_finite_latencies():
    est = DelayEstimator(DelayEstimatorConfig(discard_first=0))
    est.add(float("nan"))
    est.add(0.1)
    assert est.estimate_s() == pytest.approx(0.1)


def test_the_step_limit_scales_with_the_periods_since_the_last_command():
    s = make_scheduler(SchedulerConfig(kind="plain", max_step=0.05, blend_steps=0))
    s.add_chunk(TimedChunk(ramp(0.0, slope=0.05), 0), 0)
    s.command(0)
    # Three periods passed (the timer skipped two): the plan moved 0.15, the command may follow it.
    np.testing.assert_allclose(s.command(3, elapsed=3)[0], 0.15)
    # One period: the limit holds the command back to one step from the last.
    s.add_chunk(TimedChunk(ramp(1.0), 4), 4)
    np.testing.assert_allclose(s.command(4)[0], 0.20)


def test_lockstep_executes_the_first_rows_of_each_chunk_as_predicted():
    from recap_model.chunk_scheduling import LockstepChunking

    chunks = LockstepChunking(execute_steps=3, horizon=5)
    first, second = np.arange(5.0)[:, None] * np.ones((5, 2)), 10.0 + np.arange(5.0)[:, None] * np.ones((5, 2))
    executed = []
    for chunk in (first, second):
        assert chunks.needs_chunk()
        chunks.add_chunk(chunk)
        for _ in range(3):
            executed.append(chunks.command())
    # rows 0..2 of each chunk, bit for bit: no cross-fade, and no step limit on the jump from 2 to 10
    np.testing.assert_array_equal(np.array(executed), np.concatenate([first[:3], second[:3]]))
    assert chunks.needs_chunk()
    with pytest.raises(RuntimeError, match="step 6: no chunk"):
        chunks.command()


def test_lockstep_queries_afresh_after_a_step_it_did_not_command():
    from recap_model.chunk_scheduling import LockstepChunking

    chunks = LockstepChunking(execute_steps=3, horizon=5)
    chunks.add_chunk(np.zeros((5, 2)))
    chunks.command()
    chunks.yield_step()
    assert chunks.needs_chunk()
    chunks.add_chunk(np.ones((5, 2)))
    np.testing.assert_array_equal(chunks.command(), np.ones(2))  # row 0 of the new chunk
    with pytest.raises(ValueError, match="a chunk of 4 actions, expected H = 5"):
        chunks.add_chunk(np.ones((4, 2)))
    with pytest.raises(ValueError, match="execute_steps 6 must be in 1 .. the policy's horizon H = 5"):
        LockstepChunking(execute_steps=6, horizon=5)


def test_no_step_limit_only_when_asked_for():
    assert SchedulerConfig(max_step=None).max_step is None
    with pytest.raises(ValueError, match="max_step must be a positive number"):
        SchedulerConfig(max_step=float("inf"))
