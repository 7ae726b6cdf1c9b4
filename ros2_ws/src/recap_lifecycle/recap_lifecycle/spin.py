"""Spin a node's executor until the process is told to stop, with ctrl-C's race inside rclpy handled.

rclpy's signal handler shuts the context down from another thread. If that lands between the
executor's check that the context is ok and its creation of the next wait set, spin raises
RCLError ("failed to initialize wait set: the given context is not valid") instead of
ExternalShutdownException (ros2/rclpy#398, ros2/ros2cli#854): a clean SIGINT then looked like a
crash, and the node exited 1 after it had closed its episode properly.
"""
from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException


def spin_until_shutdown(spin: Callable[[], None], context: Context | None = None) -> None:
    """Run `spin` (e.g. `executor.spin`); return when the process is interrupted or `context` (the
    default one if None) is shut down. An RCLError while the context is still ok is a real failure
    and propagates."""
    try:
        spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RCLError:
        if rclpy.ok(context=context):
            raise
