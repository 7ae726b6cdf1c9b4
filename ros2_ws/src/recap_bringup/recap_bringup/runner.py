"""recap-bringup: start the RECAP node graph without `ros2 launch`.

Reads the same graph description as espresso.launch.py / transfer_cube.launch.py, starts each
node as a process, checks that every topic a node needs is published, and stops everything on
Ctrl-C. On a robot PC with ROS 2 installed, prefer `ros2 launch recap_bringup espresso.launch.py`.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from recap_bringup.graph import describe_graph
from recap_bringup.launch_arguments import HELP, default_strings, parse
from recap_bringup.process_group import NodeProcesses
from recap_bringup.startup_check import wait_for_publishers

LAUNCH_FILES = {"espresso": "espresso", "transfer_cube": "transfer_cube"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recap-bringup",
        description="Start the RECAP-ROS graph (sim or real robot, policy, arbitration, recorder) "
                    "as processes, from the same description as the launch files.",
        epilog="examples: recap-bringup espresso --checkpoint runs/loop/train/iter_1/policy\n"
               "          recap-bringup loop --task espresso   (the RECAP loop; see recap-bringup loop --help)\n"
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
    parser.add_argument("--startup-timeout", type=float, default=15.0,
                        help="seconds to wait for every required topic to have a publisher")
    parser.add_argument("--log-dir", type=Path, default=None, help="also write each node's output here")
    parser.add_argument("--dry-run", action="store_true", help="print the processes and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["loop"]:
        from recap_bringup.loop.cli import main as loop_main
        return loop_main(argv[1:])
    if argv[:1] == ["soak"]:
        from recap_bringup.soak import main as soak_main
        return soak_main(argv[1:])
    opts = build_parser().parse_args(argv)
    values = default_strings(task=LAUNCH_FILES[opts.launch])
    values.update({k: v for k, v in vars(opts).items() if k in values and v is not None})
    try:
        specs = describe_graph(parse(values))
    except (ValueError, FileNotFoundError) as exc:
        print(f"recap-bringup: {exc}", file=sys.stderr)
        return 2
    group = NodeProcesses(specs, log_dir=opts.log_dir)
    if opts.dry_run:
        for spec in specs:
            print(" ".join(group.command(spec)))
        return 0
    if opts.log_dir:
        opts.log_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    group.start()
    print(f"[recap-bringup] started {', '.join(s.name for s in specs)}", flush=True)
    for problem in wait_for_publishers(specs, opts.startup_timeout):
        print(f"[recap-bringup] WARNING: {problem}", flush=True)
    code = 0
    while not stop.wait(0.5):
        crashed = {n: c for n, c in group.exited().items()}
        if crashed:
            for name, exit_code in crashed.items():
                print(f"[recap-bringup] {name} exited with code {exit_code}; stopping the graph", flush=True)
            code = 1
            break
    group.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
