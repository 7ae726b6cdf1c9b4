"""Config checks that name the field at fault, so that a command line can name its option instead.

A config's `__post_init__` raises `FieldError("TrainConfig", "steps", "must be > 0, got 0")`; in
Python that reads "TrainConfig.steps must be > 0, got 0", and the `recap` command that filled the
field from `--steps` re-words it as "--steps must be > 0, got 0" (recap_trainer/cli/options.py).
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class FieldError(ValueError):
    """A config field with a bad value: `problem` says what it must be and what it was."""

    def __init__(self, owner: str, field: str, problem: str) -> None:
        super().__init__(f"{owner}.{field} {problem}")
        self.owner, self.field, self.problem = owner, field, problem


def check_field(ok: bool, owner: str, field: str, requirement: str, value: Any) -> None:
    """Raise a FieldError "<owner>.<field> <requirement>, got <value>" unless `ok`."""
    if not ok:
        raise FieldError(owner, field, f"{requirement}, got {value!r}")


def check_task_names(owner: str, field: str, names: Iterable[str], known: Iterable[str]) -> None:
    """Per-task settings must name tasks of the data: a misspelt task would otherwise be ignored."""
    known = sorted(set(known))
    unknown = sorted(set(names) - set(known))
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise FieldError(owner, field, f"names unknown task {unknown[0]!r} ({hint}known tasks: {', '.join(known)})")
