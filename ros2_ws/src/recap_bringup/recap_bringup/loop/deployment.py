"""Deploy a policy through the real ROS graph (sim, operator, policy, arbitration, recorder) and
record episodes, surviving a node crash (restart it, retry the episode) and stopping cleanly when
the recorder refuses to start (e.g. the disk is full), keeping every finished episode."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from recap_bringup.episode_driver import EpisodeDriver, EpisodeError, RecorderRefused
from recap_bringup.graph import LaunchArgs, describe_graph
from recap_bringup.loop.ledger import Ledger
from recap_bringup.process_group import NodeProcesses
from recap_bringup.startup_check import wait_for_publishers

log = logging.getLogger("recap.loop")


class DeploymentStopped(RuntimeError):
    """Deployment cannot continue (the recorder refuses episodes, a node keeps crashing)."""


@dataclasses.dataclass(frozen=True)
class DeploymentConfig:
    task: str
    prompt: str
    episodes: int
    first_seed: int
    wall_timeout_s: float  # per episode, then it is aborted
    iteration: int = 0  # stored in each bag's metadata
    real_time_factor: float = 1.0
    render_cameras: bool = False
    startup_timeout_s: float = 60.0
    max_restarts: int = 3  # per deployment, over all nodes


def deploy(policy_dir: Path, bag_dir: Path, log_dir: Path, cfg: DeploymentConfig, ledger: Ledger,
           step_prefix: str, on_episode: Callable[[dict], None] | None = None) -> list[dict]:
    """Record `cfg.episodes` episodes of `policy_dir`; episodes already in the ledger are skipped."""
    pending = [i for i in range(cfg.episodes) if not ledger.done(f"{step_prefix}/episode_{i}")]
    if pending:
        if not (policy_dir / "config.json").is_file():
            raise FileNotFoundError(f"no policy checkpoint at {policy_dir} (config.json missing)")
        specs = describe_graph(LaunchArgs(task=cfg.task, checkpoint=str(policy_dir), bag_dir=str(bag_dir)),
                               overrides={"sim_node": {"real_time_factor": cfg.real_time_factor,
                                                       **({} if cfg.render_cameras else {"cameras": ["none"]})},
                                          "recorder_node": {"iteration": cfg.iteration}})
        log_dir.mkdir(parents=True, exist_ok=True)
        with NodeProcesses(specs, log_dir=log_dir, echo=None) as group:
            _check_startup(specs, cfg, group, log_dir)
            driver = EpisodeDriver()
            try:
                restarts = 0
                for i in pending:
                    while True:
                        try:
                            result = driver.run_episode(cfg.task, cfg.first_seed + i, cfg.prompt, cfg.wall_timeout_s)
                            break
                        except RecorderRefused as error:
                            raise DeploymentStopped(f"{error}; finished episodes are kept in {bag_dir}") from error
                        except EpisodeError as error:
                            crashed = group.exited()
                            if not crashed or restarts >= cfg.max_restarts:
                                raise DeploymentStopped(f"episode {i}: {error}; logs in {log_dir}") from error
                            for name, code in crashed.items():
                                log.warning("%s exited with code %s during episode %d; restarting it "
                                            "and retrying the episode (log: %s)", name, code, i, log_dir / f"{name}.log")
                                group.start(name)
                                restarts += 1
                            _check_startup(specs, cfg, group, log_dir)
                    record = dataclasses.asdict(result)
                    ledger.finish(f"{step_prefix}/episode_{i}", record)
                    if on_episode:
                        on_episode(record)
            finally:
                driver.close()
    return [ledger.result(f"{step_prefix}/episode_{i}") for i in range(cfg.episodes)]


def _check_startup(specs, cfg: DeploymentConfig, group: NodeProcesses, log_dir: Path) -> None:
    problems = wait_for_publishers(specs, cfg.startup_timeout_s)
    dead = group.exited()
    if dead:
        problems += [f"{name} exited with code {code} at start-up (log: {log_dir / (name + '.log')})"
                     for name, code in dead.items()]
    if problems:
        raise DeploymentStopped("the ROS graph did not come up:\n  " + "\n  ".join(problems))
