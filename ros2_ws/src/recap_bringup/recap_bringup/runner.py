"""recap-bringup: start the RECAP node graph without `ros2 launch`.

Reads the same graph description as espresso.launch.py / transfer_cube.launch.py, starts each
node as a process in one ROS domain, configures and activates the managed nodes in order, checks
that every topic a node needs is published as the robot description says, and stops everything on
Ctrl-C, when a node exits or when a node fails to configure. On a robot PC with ROS 2 installed,
`ros2 launch recap_bringup espresso.launch.py` starts the same graph.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from recap_bringup.graph import describe_graph
from recap_bringup.launch_arguments import HELP, default_strings, parse
from recap_bringup.process_group import NodeProcesses
from recap_bringup.ros_domain import MAX_DOMAIN_ID, domain_id_option, resolve_domain_id
from recap_bringup.startup_check import NodeExitedAtStartup, watch_startup
from recap_lifecycle.transitions import TransitionError

LAUNCH_FILES = {"espresso": "espresso", "transfer_cube": "transfer_cube"}
DOMAIN_HELP = (f"ROS domain (0..{MAX_DOMAIN_ID}) of every node, so that graphs on one machine stay apart "
               "(default: $ROS_DOMAIN_ID; unset: a domain no process on this machine uses, for a simulated "
               "robot, or 0 for a real one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recap-bringup",
        description="Start the RECAP-ROS graph (sim or real robot, policy, arbitration, recorder) "
                    "as processes, from the same description as the launch files.",
        epilog="examples: recap-bringup espresso --checkpoint runs/loop/train/iter_1/policy\n"
               "          recap-bringup espresso --sim false --robot my_robot.yaml   (your robot's drivers)\n"
               "          recap-lab loop --task espresso   (the RECAP loop through this graph; recap_lab)\n"
               "          recap-bringup soak --checkpoint DIR --duration 3600   (endurance run)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("launch", choices=sorted(LAUNCH_FILES),
                        help="which launch file to mirror (sets the default task)")
    for name, default in default_strings().items():
        if name == "task":
            continue
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None,
                            help=f"{HELP[name]} (default: {default or 'empty'})")
    parser.add_argument("--task", default=None, help=HELP["task"])
    parser.add_argument("--domain-id", type=domain_id_option, default=None, metavar="N",
                        help=DOMAIN_HELP)
    parser.add_argument("--startup-timeout", type=float, default=30.0,
                        help="seconds to wait for the managed nodes to configure and for every required topic "
                             "(a node that exits or fails to configure stops the graph at once)")
    parser.add_argument("--log-dir", type=Path, default=None, help="also write each node's output here")
    parser.add_argument("--dry-run", action="store_true", help="print the processes and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["soak"]:
        from recap_bringup.soak import main as soak_main
        return soak_main(argv[1:])
    opts = build_parser().parse_args(argv)
    values = default_strings(task=LAUNCH_FILES[opts.launch])
    values.update({k: v for k, v in vars(opts).items() if k in values and v is not None})
    try:
        args = parse(values)
        specs = describe_graph(args)
        domain_id, source = resolve_domain_id(opts.domain_id, os.environ, sim=args.sim)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"recap-bringup: {exc}", file=sys.stderr)
        return 2
    group = NodeProcesses(specs, domain_id=domain_id, log_dir=opts.log_dir)
    if opts.dry_run:
        for spec in specs:
            print(f"ROS_DOMAIN_ID={domain_id} " + " ".join(group.command(spec)))
        return 0
    if opts.log_dir:
        opts.log_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    handlers = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return run_graph(group, opts.startup_timeout, stop, f"ROS domain {domain_id} ({source})")
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def run_graph(group: NodeProcesses, startup_timeout: float, stop: threading.Event, domain: str) -> int:
    """Start `group`, watch it come up, run until `stop` is set or a node exits; 0 only for `stop`."""
    group.start()
    print(f"[recap-bringup] started {', '.join(group.specs)} in {domain}", flush=True)
    try:
        for problem in watch_startup(group, startup_timeout, cancelled=stop):
            print(f"[recap-bringup] WARNING: {problem}", flush=True)
        while not stop.wait(0.5):
            if group.exited():
                for name in group.exited():
                    print(f"[recap-bringup] {group.exit_report(name)}\nstopping the graph", file=sys.stderr,
                          flush=True)
                return 1
        return 0
    except NodeExitedAtStartup as exited:
        print(f"recap-bringup: a node exited during startup; stopping the graph.\n{exited}", file=sys.stderr,
              flush=True)
        return 1
    except TransitionError as failed:
        print(f"recap-bringup: {failed}\nstopping the graph", file=sys.stderr, flush=True)
        return 1
    finally:
        group.stop()


if __name__ == "__main__":
    sys.exit(main())
