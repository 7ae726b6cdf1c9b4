"""Control periods counted on the clock: skipped timer firings are counted, jitter is not."""
import pytest

from recap_policy.tick_counter import RateMeter, TickCounter

MS = 1_000_000


def test_regular_firings_count_one_period_each_despite_jitter():
    ticks = TickCounter(0.02)
    late = [0, 3, 1, 7, 0, 9, 2]  # ms after each grid point (a timer fires late, never early)
    assert [ticks.periods(k * 20 * MS + j * MS) for k, j in enumerate(late)] == [1] * len(late)
    assert ticks.skipped == 0


def test_a_clock_jump_counts_the_periods_the_timer_missed():
    ticks = TickCounter(0.02)
    stamps = [0, 20, 80, 100, 160]  # ms: /clock jumped 3 and 3 periods ahead
    assert [ticks.periods(t * MS) for t in stamps] == [1, 1, 3, 1, 3]
    assert ticks.skipped == 4


def test_a_clock_that_goes_back_starts_a_new_grid():
    ticks = TickCounter(0.02)
    for t in (1000, 1020, 1040):
        ticks.periods(t * MS)
    assert ticks.periods(5 * MS) == 1  # the sim restarted its clock
    assert ticks.periods(25 * MS) == 1 and ticks.periods(65 * MS) == 2


def test_a_bad_period_is_refused():
    with pytest.raises(ValueError, match="period"):
        TickCounter(0.0)


def test_the_rate_meter_counts_events_in_its_window_on_the_given_clock():
    meter = RateMeter(window_s=2.0)
    assert meter.rate_hz(0) == 0.0
    for i in range(100):  # 50 Hz for 2 s
        meter.event(i * 20_000_000)
    assert meter.rate_hz(99 * 20_000_000) == pytest.approx(50.0)
    assert meter.rate_hz(99 * 20_000_000 + 1_000_000_000) == pytest.approx(25.0)  # a second of silence
    assert meter.rate_hz(10**12) == 0.0
    meter.event(5)  # a clock that went back (a restarted sim): the old events go
    assert meter.rate_hz(5) == pytest.approx(0.5)
