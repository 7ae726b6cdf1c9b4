"""Every option of `recap` and `recap-lab` explains itself in --help, and no help shows a default
that is not one ("(default: None)")."""
from __future__ import annotations

import argparse

import pytest

import recap_lab.cli
import recap_trainer.cli
from recap_lab.self_improvement.cli import build_parser as loop_parser


def _commands() -> dict[str, argparse.ArgumentParser]:
    commands = {}
    for prog, parser in (("recap", recap_trainer.cli.build_parser()), ("recap-lab", recap_lab.cli.build_parser())):
        commands.update(_subcommands(prog, parser))
    commands["recap-lab loop"] = loop_parser()
    return commands


def _subcommands(prog: str, parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every (nested) sub-command with its own --help."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if sub.add_help:
                    found[f"{prog} {name}"] = sub
                found.update(_subcommands(f"{prog} {name}", sub))
    return found


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_option_is_explained(command: str) -> None:
    parser = _commands()[command]
    unexplained = [a.option_strings or a.dest for a in parser._actions
                   if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert not unexplained, f"{command}: options without help: {unexplained}"
    assert "(default: None)" not in parser.format_help()
