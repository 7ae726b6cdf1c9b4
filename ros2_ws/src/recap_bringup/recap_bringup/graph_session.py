"""A running ROS graph plus an episode driver: runs recorded episodes one after another,
restarting a node that crashed and retrying its episode, and stopping cleanly when the recorder
refuses to start one (e.g. the disk is full). Used by the loop's deployments and the soak."""
from __future__ import annotations

import logging
from pathlib import Path

from recap_bringup.episode_driver import EpisodeDriver, EpisodeError, EpisodeResult, RecorderRefused
from recap_bringup.graph import NodeSpec
from recap_bringup.process_group import NodeProcesses
from recap_bringup.startup_check import wait_for_publishers

log = logging.getLogger("recap.graph")


class GraphStopped(RuntimeError):
    """The graph cannot go on (it did not come up, the recorder refuses episodes, a node keeps crashing)."""


class GraphSession:
    def __init__(self, specs: list[NodeSpec], log_dir: Path, startup_timeout_s: float = 60.0,
                 max_restarts: int = 3) -> None:
        self.specs = specs
        self.log_dir = log_dir
        self.startup_timeout_s = startup_timeout_s
        self.max_restarts = max_restarts
        self.restarts: dict[str, int] = {}
        self.group = NodeProcesses(specs, log_dir=log_dir, echo=None)
        self.driver: EpisodeDriver | None = None

    def __enter__(self) -> "GraphSession":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.group.start()
        try:
            self._check_startup()
            self.driver = EpisodeDriver()
        except BaseException:
            self.group.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.driver:
            self.driver.close()
        self.group.stop()

    def run_episode(self, task: str, seed: int, prompt: str, wall_timeout_s: float) -> EpisodeResult:
        """One recorded episode with every node alive from start to end.

        A node found dead is restarted and the episode retried; an episode during which a node died
        (e.g. the policy: the arms held still) is relabelled `abort`, so it never counts as an outcome."""
        while True:
            self._restart_crashed(f"before the episode with seed {seed}")
            try:
                result = self.driver.run_episode(task, seed, prompt, wall_timeout_s)
            except RecorderRefused as error:
                raise GraphStopped(f"{error}; finished episodes are kept") from error
            except EpisodeError as error:
                if not self.group.exited():
                    raise GraphStopped(f"seed {seed}: {error}; logs in {self.log_dir}") from error
                continue
            crashed = self.group.exited()
            if not crashed:
                return result
            self.driver.abort_recorded(result.episode_id, f"{', '.join(crashed)} crashed during the episode")
            log.warning("episode %s relabelled abort: %s crashed during it", result.episode_id, ", ".join(crashed))

    def _restart_crashed(self, when: str) -> None:
        crashed = self.group.exited()
        if not crashed:
            return
        if sum(self.restarts.values()) + len(crashed) > self.max_restarts:
            raise GraphStopped(f"{', '.join(crashed)} crashed {when}, after {sum(self.restarts.values())} restarts "
                               f"already; logs in {self.log_dir}")
        for name, code in crashed.items():
            log.warning("%s exited with code %s %s; restarting it (log: %s)", name, code, when,
                        self.log_dir / f"{name}.log")
            self.group.start(name)
            self.restarts[name] = self.restarts.get(name, 0) + 1
        self._check_startup()

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.group.procs.items() if proc.poll() is None}

    def _check_startup(self) -> None:
        problems = wait_for_publishers(self.specs, self.startup_timeout_s)
        problems += [f"{name} exited with code {code} (log: {self.log_dir / (name + '.log')})"
                     for name, code in self.group.exited().items()]
        if problems:
            raise GraphStopped("the ROS graph did not come up:\n  " + "\n  ".join(problems))
