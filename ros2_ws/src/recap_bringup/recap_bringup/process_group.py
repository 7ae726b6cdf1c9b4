"""Start the nodes of a graph description as plain processes (`python -m <module> --ros-args ...`).

This is what `ros2 launch` does for us on a ROS install; here it also lets the loop notice a node
that crashed and restart it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from recap_bringup.graph import NODE_ENVIRONMENT, NodeSpec, params_yaml, ros_args

TAIL_LINES = 40  # of each node's output, kept for the message when it exits (a crash's Python stack fits)


class NodeProcesses:
    """The running processes of a graph, all in ROS domain `domain_id`, with their output prefixed
    by node name."""

    def __init__(self, specs: Iterable[NodeSpec], domain_id: int, log_dir: Path | None = None,
                 echo: IO[str] | None = sys.stdout) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.domain_id = domain_id
        self._params_dir = Path(tempfile.mkdtemp(prefix="recap-params-"))
        self._log_dir = log_dir
        self._echo = echo
        self.procs: dict[str, subprocess.Popen] = {}
        self._relays: dict[str, threading.Thread] = {}
        # The last lines each node wrote: a node that exits says why there (e.g. "cannot start: ...").
        self._tails: dict[str, deque[str]] = {}
        self._lock = threading.Lock()

    def command(self, spec: NodeSpec) -> list[str]:
        params = self._params_dir / f"{spec.name}.yaml"
        params.write_text(params_yaml(spec))
        return [sys.executable, "-u", "-m", spec.module, *ros_args(spec, str(params))]

    def start(self, name: str | None = None) -> None:
        """Start every node (in description order), or just `name`."""
        env = {**os.environ, **NODE_ENVIRONMENT, "ROS_DOMAIN_ID": str(self.domain_id)}
        for spec in ([self.specs[name]] if name else self.specs.values()):
            # A session of its own: a terminal's Ctrl-C or `systemctl stop` signals every process of
            # the group, and a node signalled again by `stop()` mid-shutdown dies with a traceback.
            proc = subprocess.Popen(self.command(spec), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, bufsize=1, env=env, start_new_session=True)
            self.procs[spec.name] = proc
            self._tails[spec.name] = tail = deque(maxlen=TAIL_LINES)
            self._relays[spec.name] = relay = threading.Thread(target=self._relay, args=(spec.name, proc, tail),
                                                               daemon=True)
            relay.start()

    def _relay(self, name: str, proc: subprocess.Popen, tail: deque[str]) -> None:
        log = open(self._log_dir / f"{name}.log", "a") if self._log_dir else None
        try:
            for line in proc.stdout:
                tail.append(line.rstrip("\n"))
                if log:
                    log.write(line)
                    log.flush()
                if self._echo:
                    with self._lock:
                        self._echo.write(f"[{name}] {line}")
                        self._echo.flush()
        finally:
            if log:
                log.close()

    def exited(self) -> dict[str, int]:
        """Nodes whose process has ended, with exit codes (negative: killed by that signal)."""
        return {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}

    def last_output(self, name: str, timeout: float = 5.0) -> list[str]:
        """The last lines `name` wrote; once its process has ended, all of them up to its exit."""
        if self.procs[name].poll() is not None:
            self._relays[name].join(timeout)  # the relay reads on until the pipe closes
        return list(self._tails[name])

    def exit_report(self, name: str) -> str:
        """'<name> exited with code <c>' and the last lines it wrote, for an error message."""
        lines = self.last_output(name)
        where = f" (log: {self._log_dir / (name + '.log')})" if self._log_dir else ""
        said = "".join(f"\n    | {line}" for line in lines) if lines else "\n    (it wrote nothing)"
        return f"{name} exited with code {self.procs[name].returncode}{where}; its last output:{said}"

    def stop(self, timeout: float = 10.0) -> dict[str, int]:
        """SIGINT to every node (as ros2 launch does), SIGKILL to those still alive after `timeout`."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        codes = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        return codes

    def __enter__(self) -> "NodeProcesses":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
