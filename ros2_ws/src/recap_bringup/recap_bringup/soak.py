"""recap-bringup soak: run the deployed stack (sim + simulated operator, policy, arbitration,
recorder) continuously for a given time, episode after episode, and report memory growth per
node, dropped messages and lost episodes (which must be zero)."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from recap_core.robot_description import load_robot
from recap_core.output_files import write_json_atomic, write_text_atomic
from recap_bringup.graph_session import GraphSession, GraphStopped
from recap_bringup.deployment import DeploymentConfig, deployment_graph
from recap_bringup.graph import SIM_ROBOT
from recap_bringup.ros_domain import MAX_DOMAIN_ID, domain_id_option, requested_domain_id
from recap_sim.tasks import task_prompt
from recap_bringup.soak_stats import audit_episodes, rss_growth
from recap_bringup.termination import INTERRUPTED_EXIT_CODE, terminate_as_interrupt

log = logging.getLogger("recap.soak")


class RssSampler(threading.Thread):
    """Samples each node process's resident memory every `period_s` (a restarted node is followed)."""

    def __init__(self, session: GraphSession, period_s: float) -> None:
        super().__init__(daemon=True)
        self.session, self.period_s = session, period_s
        self.samples: dict[str, list[tuple[float, int]]] = {}
        self._halt = threading.Event()
        self._t0 = time.monotonic()

    def run(self) -> None:
        while not self._halt.wait(self.period_s):
            now = time.monotonic() - self._t0
            for name, pid in self.session.pids().items():
                try:
                    self.samples.setdefault(name, []).append((now, psutil.Process(pid).memory_info().rss))
                except psutil.NoSuchProcess:
                    pass

    def stop(self) -> None:
        self._halt.set()
        self.join()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recap-bringup soak", description=__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="policy checkpoint directory")
    parser.add_argument("--task", default="espresso")
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds of wall time (default 1 h)")
    parser.add_argument("--out", type=Path, default=Path("runs/soak"), help="bags, logs and the report")
    parser.add_argument("--sample-period", type=float, default=10.0, help="RSS sampling period (s)")
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds left out of the RSS slope")
    parser.add_argument("--render-cameras", action="store_true",
                        help="render and record every camera of the simulator's description (a policy that "
                             "reads cameras always gets the ones it was trained on)")
    parser.add_argument("--domain-id", type=domain_id_option, default=None, metavar="N",
                        help=f"ROS domain (0..{MAX_DOMAIN_ID}) of the graph, so that graphs on one machine stay "
                             "apart (default: $ROS_DOMAIN_ID; unset: a domain no process on this machine uses)")
    return parser


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s %(name)s] %(message)s", datefmt="%H:%M:%S")
    if not (opts.checkpoint / "config.json").is_file():
        print(f"recap-bringup soak: no policy checkpoint at {opts.checkpoint}", file=sys.stderr)
        return 2
    try:
        domain_id = requested_domain_id(opts.domain_id, os.environ)
    except ValueError as error:
        print(f"recap-bringup soak: {error}", file=sys.stderr)
        return 2
    cfg = DeploymentConfig(task=opts.task, prompt=task_prompt(opts.task), episodes=0, first_seed=200_000,
                           wall_timeout_s=120.0,
                           cameras=tuple(c.name for c in load_robot(SIM_ROBOT).cameras) if opts.render_cameras else ())
    specs = deployment_graph(opts.checkpoint, opts.out / "bags", cfg)
    results, error, interrupted, started = [], "", False, time.monotonic()
    sampler = None
    terminate_as_interrupt()
    try:
        with GraphSession(specs, opts.out / "logs", domain_id=domain_id) as session:
            sampler = RssSampler(session, opts.sample_period)
            sampler.start()
            try:
                while time.monotonic() - started < opts.duration:
                    seed = cfg.first_seed + len(results)
                    result = session.run_episode(cfg.task, seed, cfg.prompt, cfg.wall_timeout_s)
                    results.append(dataclasses.asdict(result))
                    if len(results) % 10 == 0:
                        log.info("%d episodes in %.0f min", len(results), (time.monotonic() - started) / 60)
            except GraphStopped as stopped:
                error = str(stopped)
            finally:
                sampler.stop()
    except KeyboardInterrupt:  # the session has stopped its nodes on the way out
        if sampler is None:
            print("recap-bringup soak: interrupted while the graph was starting; its nodes were stopped",
                  file=sys.stderr)
            return INTERRUPTED_EXIT_CODE
        interrupted = True
        error = f"interrupted after {len(results)} episodes (the report covers those)"
    report = write_report(opts.out, results, sampler.samples, opts, time.monotonic() - started, session.restarts, error)
    print(report.read_text())
    if interrupted:
        return INTERRUPTED_EXIT_CODE
    return 1 if error else 0


def write_report(out: Path, results: list[dict], samples: dict, opts, wall_s: float, restarts: dict,
                 error: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    audit = audit_episodes([r["bag_path"] for r in results])
    growth = [rss_growth(name, np.array([t for t, _ in s]), np.array([m for _, m in s]), opts.warmup)
              for name, s in sorted(samples.items()) if s]
    figure, axis = plt.subplots(figsize=(8, 4))
    for name, s in sorted(samples.items()):
        axis.plot([t / 60 for t, _ in s], [m / 1e6 for _, m in s], label=name)
    axis.set_xlabel("minutes"), axis.set_ylabel("RSS [MB]"), axis.legend(fontsize=8)
    axis.set_title(f"soak: RSS per node over {wall_s / 60:.0f} min")
    figure.tight_layout()
    figure.savefig(out / "rss.png", dpi=100)
    outcomes = {o: sum(r["outcome"] == o for r in results) for o in ("success", "failure", "abort")}
    lines = [f"# Soak: {len(results)} episodes of `{opts.task}` in {wall_s / 60:.1f} min", "",
             f"Outcomes: {outcomes}; interventions: {sum(r['interventions'] for r in results)}; "
             f"node restarts: {restarts or 'none'}." + (f" Stopped early: {error}" if error else ""), "",
             f"**Episodes lost: {len(audit.lost)}** of {audit.episodes} recorded ({audit.incomplete} marked incomplete)."]
    lines += [f"- lost: {x}" for x in audit.lost]
    lines += ["", f"Dropped messages: {audit.dds_lost} reported lost by DDS, {audit.queue_dropped} dropped by the "
              f"recorder's queue, {audit.stamp_gaps} missing by header-stamp gaps"
              + (f" ({audit.per_topic_gaps})" if audit.per_topic_gaps else "") + ".", "",
              f"| node | RSS start MB | RSS end MB | peak MB | growth after {opts.warmup:.0f} s warm-up, MB/h |",
              "|---|---|---|---|---|"]
    lines += [f"| {g.node} | {g.start_mb:.0f} | {g.end_mb:.0f} | {g.peak_mb:.0f} | {g.slope_mb_per_h:+.1f} |"
              for g in growth]
    lines += ["", "![RSS per node](rss.png)", ""]
    write_json_atomic(out / "soak.json", {"episodes": results, "audit": dataclasses.asdict(audit),
                                          "rss": [dataclasses.asdict(g) for g in growth],
                                          "wall_s": wall_s, "restarts": restarts, "error": error}, indent=1)
    path = out / "SOAK.md"
    write_text_atomic(path, "\n".join(lines))
    return path
