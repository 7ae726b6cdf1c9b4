"""Options of the `recap` commands: usage errors that name the option, per-task values, and the
output checks every command makes before its work starts."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recap_core.output_files import check_output_dir
from recap_core.config_errors import FieldError


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default in --help, except where there is none to show (None, a flag) or
    the help text already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or "(default" in text:
            return text
        return super()._get_help_string(action)


class UsageError(ValueError):
    """Options that cannot work together or hold a bad value: one line, exit status 2."""


@contextmanager
def options_named(**options: str) -> Iterator[None]:
    """Re-word a FieldError about one of the config fields given (field=option) as a UsageError
    naming the option: "TrainConfig.steps must be > 0, got 0" -> "--steps must be > 0, got 0"."""
    try:
        yield
    except FieldError as error:
        if error.field not in options:
            raise
        raise UsageError(f"{options[error.field]} {error.problem}") from None


def task_values(option: str, items: list[str], cast: Callable[[str], Any]) -> dict[str, Any]:
    """TASK=VALUE pairs of a repeatable per-task option. Whether the tasks exist is checked
    against the data (config_errors.check_task_names)."""
    values = {}
    for item in items:
        task, sep, text = item.partition("=")
        if not sep or not task:
            raise UsageError(f"{option} expects TASK=VALUE, got {item!r}")
        if task in values:
            raise UsageError(f"{option} gives task {task!r} twice")
        try:
            values[task] = cast(text)
        except ValueError:
            kind = "an integer" if cast is int else "a number"
            raise UsageError(f"{option} {task}: expected {kind}, got {text!r}") from None
    return values


def check_checkpoint_out(out: Path, resume: bool, force: bool) -> None:
    """A training command's --out: with --resume it must hold a checkpoint with its trainer state;
    without, it must not hold one (a finished checkpoint is never replaced silently) unless --force."""
    from recap_trainer.training.common import trainer_files_exist

    if resume and force:
        raise UsageError("--resume continues the checkpoint in --out, --force replaces it: give one of them")
    if resume:
        if not trainer_files_exist(out):
            raise UsageError(f"--resume: {out} holds no checkpoint to resume (no config.json and trainer_state.json)")
        check_output_dir(out, overwrite=True, what="--out")
        return
    if (out / "config.json").is_file() and not force:
        raise UsageError(f"--out {out} holds a checkpoint; pass --resume to continue it or --force to replace it")
    check_output_dir(out, overwrite=force, what="--out")
