"""The `recap` command line: one sub-command per module of this package.

Every module `recap_trainer.cli.<name>` that defines `register(subparsers)` is discovered here
(pkgutil), so other parts of the trainer add commands without editing this file. `register`
adds its parsers with `subparsers.add_parser(...)` and sets `func=<callable(args) -> int>`.
`recap-lab` (recap_lab.cli) builds its command line the same way (`command_parser`, `run`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from recap_core.output_files import OutputError
from recap_trainer.cli.options import UsageError


DESCRIPTION = ("RECAP offline trainer: datasets from bags, value function, advantage labels, "
               "advantage-conditioned policy, the Algorithm 1 iteration, export, import and replay. "
               "Run `recap <command> --help` for each command.")


def command_parser(prog: str, description: str, package) -> argparse.ArgumentParser:
    """A parser with one sub-command per module of `package` that defines `register(subparsers)`."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # __main__ runs the CLI; private helpers register nothing
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse and run one sub-command. From Python (argv given) errors propagate as exceptions; on
    the command line bad input is one line naming the culprit (RECAP_DEBUG=1 shows the traceback)."""
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if argv is not None:
        return int(args.func(args) or 0)
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, OSError, RuntimeError) as error:
        # Bad options and refused outputs exit 2, as argparse's own usage errors do.
        if os.environ.get("RECAP_DEBUG"):
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(error, (UsageError, OutputError)) else 1


def build_parser() -> argparse.ArgumentParser:
    return command_parser("recap", DESCRIPTION, sys.modules[__name__])


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
