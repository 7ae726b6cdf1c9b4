"""Takeover key in the arbitration node's terminal: a daemon thread reading single keys (no Enter).

Only when stdin is a TTY (a launched node without a terminal has none); the terminal is put in
cbreak mode and restored on stop.
"""
from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from typing import TextIO


class KeyboardReader:
    def __init__(self, stream: TextIO, on_key: Callable[[str], None]) -> None:
        self._stream = stream
        self._on_key = on_key
        self._stop = threading.Event()
        self._saved = None
        self._thread = threading.Thread(target=self._run, name="takeover-keyboard", daemon=True)

    @staticmethod
    def available(stream: TextIO) -> bool:
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    def start(self) -> None:
        import termios
        import tty
        fd = self._stream.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        if self._saved is not None:
            import termios
            termios.tcsetattr(self._stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None

    def _run(self) -> None:
        fd = self._stream.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)  # wakes to notice stop()
            if not ready:
                continue
            data = os.read(fd, 32)
            if not data:  # the terminal closed
                return
            for ch in data.decode(errors="ignore"):
                self._on_key(ch)
