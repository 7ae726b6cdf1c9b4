"""spin_until_shutdown: ctrl-C's race inside rclpy (a wait set made on a context just shut down) ends
spinning like a shutdown; the same error on a live context is a failure."""
import pytest
import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException

from recap_lifecycle.spin import spin_until_shutdown

WAIT_SET = "failed to initialize wait set: the given context is not valid"


@pytest.fixture
def context():
    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def raising(error):
    def spin():
        raise error
    return spin


def test_the_wait_set_error_after_shutdown_is_a_shutdown(context):
    def spin():
        rclpy.shutdown(context=context)  # what the signal handler does from its thread
        raise RCLError(WAIT_SET)

    spin_until_shutdown(spin, context)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), ExternalShutdownException()])
def test_interrupt_and_external_shutdown_end_spinning(context, error):
    spin_until_shutdown(raising(error), context)


def test_the_same_error_on_a_live_context_propagates(context):
    with pytest.raises(RCLError, match="wait set"):
        spin_until_shutdown(raising(RCLError(WAIT_SET)), context)
    with pytest.raises(ValueError):
        spin_until_shutdown(raising(ValueError("a callback's bug")), context)
