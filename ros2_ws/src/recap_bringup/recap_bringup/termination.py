"""SIGTERM unwinds like Ctrl-C in the long-running commands (loop, soak).

Python's default SIGTERM ends the process at once, so `with GraphSession(...)` never stops its
nodes and they run on as orphans, still stepping the sim and recording bags. `systemctl stop`,
`docker stop` and `kill` send SIGTERM; raising KeyboardInterrupt instead lets every `finally`
and context manager clean up.
"""
from __future__ import annotations

import signal

INTERRUPTED_EXIT_CODE = 130  # what a shell reports for a command ended by Ctrl-C


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def terminate_as_interrupt() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
