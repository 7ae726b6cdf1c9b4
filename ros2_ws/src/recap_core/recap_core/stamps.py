"""ROS time as one integer of nanoseconds, and as the (sec, nanosec) pair of builtin_interfaces.

Stamps are kept as integer ns everywhere (exact, comparable, no drift); a node splits them only to
build a `Time` / `Duration` message: `Time(sec=s, nanosec=n)` with `s, n = split_ns(ns)`.
"""
from __future__ import annotations

NS_PER_S = 1_000_000_000


def to_ns(sec: int, nanosec: int) -> int:
    """Integer ns of a Time / Duration's (sec, nanosec); Python ints, so an int32 `sec` cannot overflow."""
    return int(sec) * NS_PER_S + int(nanosec)


def split_ns(ns: int) -> tuple[int, int]:
    """(sec, nanosec) with 0 <= nanosec < 1e9, as builtin_interfaces keeps them; plain ints for the message."""
    sec, nanosec = divmod(int(ns), NS_PER_S)
    return sec, nanosec


def seconds_to_ns(seconds: float) -> int:
    """A time or period in (float) seconds as integer ns, rounded to the nearest."""
    return int(round(seconds * 1e9))
