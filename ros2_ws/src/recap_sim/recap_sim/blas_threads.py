"""One BLAS thread for the processes that run the scripted expert.

The expert's inverse kinematics solves 6- to 8-dimensional linear systems about seven times per
control step. numpy's OpenBLAS spreads each over its threads (2 here): 40 µs a solve instead of
3.6 µs with one thread on this 2-core machine, and under load its waiting threads compete with the
other processes (8 espresso demonstrations next to a training run: 177 s with the default, 7 s with
one thread). Torch's own thread pool (OpenMP) is not affected.
"""
from __future__ import annotations

from threadpoolctl import threadpool_limits


def one_blas_thread() -> threadpool_limits:
    """Limit numpy's BLAS to one thread now; as a context manager, restore the previous limit on exit."""
    return threadpool_limits(limits=1, user_api="blas")
