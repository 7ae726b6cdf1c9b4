"""A running ROS graph plus an episode driver: runs recorded episodes one after another,
restarting a node that crashed (and configuring and activating it again, if it is managed) and
retrying its episode, and stopping cleanly when the recorder refuses to start one (e.g. the disk
is full). Used by the loop's deployments and the soak.

While the graph comes up, a node killed by a signal (a rare segfault in C code under rclpy) is
restarted too, within the same budget; a node that exits with a code of its own has said why (a bad
parameter, a missing checkpoint), and stops the graph.

The nodes and the driver share one ROS domain: the one asked for, or one that is free on this
machine when the graph starts (chosen then, not earlier: the loop's graph is down for minutes while
it trains, and another graph may have taken a domain that was free at the loop's start)."""
from __future__ import annotations

import logging
from pathlib import Path

from recap_bringup.episode_driver import EpisodeDriver, EpisodeError, EpisodeResult, RecorderRefused
from recap_bringup.graph import NodeSpec
from recap_bringup.process_group import NodeProcesses
from recap_bringup.ros_domain import free_domain_id
from recap_bringup.startup_check import NodeExitedAtStartup, watch_startup
from recap_lifecycle.transitions import TransitionError

log = logging.getLogger("recap.graph")


class GraphStopped(RuntimeError):
    """The graph cannot go on (it did not come up, the recorder refuses episodes, a node keeps crashing)."""


class GraphSession:
    def __init__(self, specs: list[NodeSpec], log_dir: Path, startup_timeout_s: float = 60.0,
                 max_restarts: int = 3, domain_id: int | None = None) -> None:
        self.specs = specs
        self.log_dir = log_dir
        self.startup_timeout_s = startup_timeout_s
        self.max_restarts = max_restarts
        self._requested_domain_id = domain_id  # None: a free one, chosen on __enter__
        self.domain_id: int | None = None
        self.restarts: dict[str, int] = {}
        self.group: NodeProcesses | None = None
        self.driver: EpisodeDriver | None = None

    def __enter__(self) -> "GraphSession":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self._requested_domain_id is None:
            self.domain_id, source = free_domain_id(), "free on this machine"
        else:
            self.domain_id, source = self._requested_domain_id, "as asked"
        log.info("graph in ROS domain %d (%s)", self.domain_id, source)
        self.group = NodeProcesses(self.specs, domain_id=self.domain_id, log_dir=self.log_dir, echo=None)
        self.group.start()
        try:
            self._check_startup()
            self.driver = EpisodeDriver(domain_id=self.domain_id)
        except BaseException:
            self.group.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        # The nodes are stopped whatever closing the driver raises: a Ctrl-C or SIGTERM that lands
        # while it waits for its spin thread (the session unwinding from an error) left them
        # running as orphans.
        try:
            if self.driver:
                self.driver.close()
        finally:
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
        if crashed:
            self._restart(crashed, when)
            self._check_startup()

    def _restart(self, crashed: dict[str, int], when: str) -> None:
        if sum(self.restarts.values()) + len(crashed) > self.max_restarts:
            reports = "\n".join(self.group.exit_report(name) for name in crashed)
            raise GraphStopped(f"{', '.join(crashed)} crashed {when}, after {sum(self.restarts.values())} restarts "
                               f"already; logs in {self.log_dir}\n{reports}")
        for name, code in crashed.items():
            log.warning("%s exited with code %s %s; restarting it (log: %s)", name, code, when,
                        self.log_dir / f"{name}.log")
            self.group.start(name)
            self.restarts[name] = self.restarts.get(name, 0) + 1

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.group.procs.items() if proc.poll() is None}

    def _check_startup(self) -> None:
        """Bring the graph up. A node killed by a signal meanwhile is started again (within the restart
        budget); a node that exits with a code of its own said why, and stops the graph."""
        while True:
            try:
                problems = watch_startup(self.group, self.startup_timeout_s)
            except NodeExitedAtStartup as failed:
                crashed = self.group.exited()
                if any(code >= 0 for code in crashed.values()):
                    raise GraphStopped(f"the ROS graph did not come up:\n{failed}") from None
                self._restart(crashed, "while the graph came up")
                continue
            except TransitionError as failed:
                raise GraphStopped(f"the ROS graph did not come up:\n{failed}") from None
            if problems:
                raise GraphStopped("the ROS graph did not come up:\n  " + "\n  ".join(problems))
            return
