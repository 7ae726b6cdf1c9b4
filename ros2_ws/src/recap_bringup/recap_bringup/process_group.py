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
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from recap_bringup.graph import NodeSpec, params_yaml, ros_args


class NodeProcesses:
    """The running processes of a graph, with their output prefixed by node name."""

    def __init__(self, specs: Iterable[NodeSpec], log_dir: Path | None = None,
                 echo: IO[str] | None = sys.stdout) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self._params_dir = Path(tempfile.mkdtemp(prefix="recap-params-"))
        self._log_dir = log_dir
        self._echo = echo
        self.procs: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def command(self, spec: NodeSpec) -> list[str]:
        params = self._params_dir / f"{spec.name}.yaml"
        params.write_text(params_yaml(spec))
        return [sys.executable, "-u", "-m", spec.module, *ros_args(spec, str(params))]

    def start(self, name: str | None = None) -> None:
        """Start every node (in description order), or just `name`."""
        for spec in ([self.specs[name]] if name else self.specs.values()):
            proc = subprocess.Popen(self.command(spec), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, bufsize=1, env=os.environ.copy())
            self.procs[spec.name] = proc
            threading.Thread(target=self._relay, args=(spec.name, proc), daemon=True).start()

    def _relay(self, name: str, proc: subprocess.Popen) -> None:
        log = open(self._log_dir / f"{name}.log", "a") if self._log_dir else None
        try:
            for line in proc.stdout:
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
