"""Real-time pacing and sim-time sub-rates of the sim node, with synthetic clocks."""
import pytest

from recap_sim.pacing import Periodic, RealTimePacer


def test_real_time_factor_one_spaces_steps_by_the_period():
    pacer = RealTimePacer(1.0, 0.02)
    now = 100.0
    delays = []
    for _ in range(5):
        d = pacer.delay(now)
        delays.append(d)
        now += d + 0.005  # the step itself takes 5 ms
    assert delays[0] == 0.0
    assert delays[1:] == pytest.approx([0.015] * 4)


def test_faster_real_time_factor_shrinks_the_wall_period():
    pacer = RealTimePacer(4.0, 0.02)
    assert pacer.delay(0.0) == 0.0
    assert pacer.delay(0.0) == pytest.approx(0.005)


def test_zero_means_as_fast_as_possible():
    pacer = RealTimePacer(0.0, 0.02)
    assert [pacer.delay(t) for t in (0.0, 0.0, 0.0)] == [0.0, 0.0, 0.0]


def test_falling_far_behind_restarts_the_grid_instead_of_bursting():
    pacer = RealTimePacer(1.0, 0.02, max_lag_s=0.1)
    pacer.delay(0.0)
    assert pacer.delay(0.05) == 0.0  # 30 ms late: catch up without waiting
    assert pacer.resyncs == 0
    assert pacer.delay(1.0) == 0.0  # 960 ms late: restart from now
    assert pacer.resyncs == 1
    assert pacer.delay(1.0) == pytest.approx(0.02)


@pytest.mark.parametrize("rtf", [-1.0, float("nan"), float("inf")])
def test_invalid_real_time_factor_is_refused(rtf):
    with pytest.raises(ValueError, match="real_time_factor"):
        RealTimePacer(rtf, 0.02)


def fire_times(rate_hz, step_ns=20_000_000, steps=50):
    p = Periodic(rate_hz)
    return [k * step_ns for k in range(steps) if p.due(k * step_ns)]


def test_periodic_divides_the_step_rate():
    assert fire_times(10.0, steps=26) == [k * 100_000_000 for k in range(6)]


def test_periodic_rate_not_dividing_the_step_rate_keeps_its_average():
    times = fire_times(15.0, steps=500)  # 10 s of 50 Hz steps
    assert len(times) == 150


def test_periodic_faster_than_steps_fires_every_step():
    assert len(fire_times(200.0, steps=10)) == 10


def test_periodic_restart_fires_at_once():
    p = Periodic(1.0)
    assert p.due(0) and not p.due(500_000_000)
    p.restart()
    assert p.due(600_000_000)


@pytest.mark.parametrize("rate", [0.0, -5.0, float("inf")])
def test_invalid_rates_are_refused(rate):
    with pytest.raises(ValueError, match="rate"):
        Periodic(rate)
