"""What a node reports on /diagnostics, ROS-free: a named status with a level, a message and values.

Nodes fill these from their ROS-free logic; recap_lifecycle turns them into diagnostic_msgs. Names
read "<node>: <what>" as rqt_robot_monitor and Foxglove group them; the operator's console reads
the values by key (docs/NODES.md lists them per node).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum


class Level(IntEnum):
    """diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass(frozen=True)
class Status:
    name: str  # "<node>: <what>"
    level: Level
    message: str
    values: Mapping[str, str | int | float | bool] = field(default_factory=dict)


def value_text(value: str | int | float | bool) -> str:
    """A value as diagnostic_msgs/KeyValue carries it (text); booleans read true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
