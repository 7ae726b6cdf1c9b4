"""The `recap-lab` command line: the sim-driven work, one sub-command per module of this package
(generate, evaluate, report), discovered as `recap` discovers its own (recap_trainer.cli), plus
`loop`, the RECAP loop through the ROS graph (recap_lab.self_improvement.cli)."""
from __future__ import annotations

import sys

from recap_trainer.cli import command_parser, run

DESCRIPTION = ("RECAP lab: scripted demonstrations and rollouts in simulation, evaluation, reports, and the "
               "RECAP loop that deploys policies through the ROS graph. Run `recap-lab <command> --help`.")


def build_parser():
    parser = command_parser("recap-lab", DESCRIPTION, sys.modules[__name__])
    subparsers = next(a for a in parser._actions if a.dest == "command")  # listed in --help; run by main()
    subparsers.add_parser("loop", add_help=False,
                          help="the RECAP loop: demonstrations -> pi^0 -> deploy through the ROS graph -> "
                               "label -> fine-tune, evaluated every iteration (recap-lab loop --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["loop"]:
        from recap_lab.self_improvement.cli import main as loop_main
        return loop_main(args[1:])
    return run(build_parser(), argv)
