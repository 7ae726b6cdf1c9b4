"""The `recap` command line: one sub-command per module of this package.

Every module `recap_trainer.cli.<name>` that defines `register(subparsers)` is discovered here
(pkgutil), so other parts of the trainer add commands without editing this file. `register`
adds its parsers with `subparsers.add_parser(...)` and sets `func=<callable(args) -> int>`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from recap_core.output_files import OutputError
from recap_trainer.cli._options import UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recap",
        description="RECAP offline trainer: value function, advantage labels, advantage-conditioned "
        "policy, the Algorithm 1 loop, datasets, evaluation and reports. "
        "Run `recap <command> --help` for each command.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # __main__ runs the CLI; private helpers register nothing
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if argv is not None:  # called from Python (tests, scripts): errors propagate as exceptions
        return int(args.func(args) or 0)
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, OSError, RuntimeError) as error:
        # On the command line bad input (a dataset, a checkpoint, a label) is one line naming the
        # culprit; RECAP_DEBUG=1 shows the traceback. Bad options and refused outputs exit 2, as
        # argparse's own usage errors do.
        if os.environ.get("RECAP_DEBUG"):
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"recap {args.command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(error, (UsageError, OutputError)) else 1


if __name__ == "__main__":
    sys.exit(main())
