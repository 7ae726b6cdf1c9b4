"""ROS time as integer ns and as builtin_interfaces (sec, nanosec) pairs."""
import pytest

from recap_core.stamps import NS_PER_S, seconds_to_ns, split_ns, to_ns


@pytest.mark.parametrize("ns", [0, 1, NS_PER_S - 1, NS_PER_S, 5 * NS_PER_S + 60_000_000,
                                1_700_000_000 * NS_PER_S + 123_456_789,  # an epoch stamp of today
                                (2**31 - 1) * NS_PER_S + NS_PER_S - 1])  # the last one int32 sec can hold
def test_split_and_join_round_trip(ns):
    sec, nanosec = split_ns(ns)
    assert 0 <= nanosec < NS_PER_S
    assert to_ns(sec, nanosec) == ns


def test_split_gives_plain_ints_for_message_fields():
    import numpy as np
    sec, nanosec = split_ns(np.int64(3 * NS_PER_S + 7))
    assert (sec, nanosec) == (3, 7)
    assert type(sec) is int and type(nanosec) is int  # builtin_interfaces/Time rejects numpy ints


def test_to_ns_takes_numpy_fields_without_overflow():
    import numpy as np
    # An int32 sec times 1e9 overflows in numpy; the join is done in Python ints.
    assert to_ns(np.int32(2**31 - 1), np.uint32(5)) == (2**31 - 1) * NS_PER_S + 5


def test_seconds_to_ns_rounds_to_the_nearest_ns():
    assert seconds_to_ns(0.02) == 20_000_000
    assert seconds_to_ns(1.5) == 1_500_000_000
    assert seconds_to_ns(0.3) == 300_000_000  # 0.3 * 1e9 = 299999999.99999994 in floating point
    assert split_ns(seconds_to_ns(12.000000001)) == (12, 1)
    assert isinstance(seconds_to_ns(0.1), int)
