"""Task registry: `make_task(name)` builds a fresh Task (one per SimEnv)."""
from __future__ import annotations

import difflib

from recap_sim.tasks.base import Task, TaskStatus
from recap_sim.tasks.espresso import Espresso
from recap_sim.tasks.transfer_cube import TransferCube

TASKS: dict[str, type[Task]] = {TransferCube.name: TransferCube, Espresso.name: Espresso}


def make_task(name: str) -> Task:
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown task {name!r}: known tasks are {sorted(TASKS)}{hint}")
    return TASKS[name]()


def task_prompt(name: str) -> str:
    """The instruction a policy is given for task `name` (the task name itself for unknown tasks)."""
    return TASKS[name].prompt if name in TASKS else name


__all__ = ["TASKS", "Task", "TaskStatus", "make_task", "task_prompt"]
