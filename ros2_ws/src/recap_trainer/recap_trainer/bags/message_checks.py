"""Which decoded joint messages can be used; a rejected one is kept aside with why, never as a value.

Follower readings (the observation) that lack joints, are NaN / inf or lie outside the joint
limits make the steps that hold them stale (alignment.py). Commands that the arbitration node or
an arm's controller refuses (wrong joint set, NaN / inf; for executed commands also outside the
joint limits: the safety filter clips every command it sends) are skipped: the arm keeps
executing its last command.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from recap_core.aloha_layout import JointNameError

from recap_trainer.episode import JointRange

MISSING_JOINTS = "missing joints"
NON_FINITE = "NaN or inf"
OUT_OF_RANGE = "outside the joint limits"
ALL_JOINTS = slice(None)


@dataclass(frozen=True)
class Rejected:
    """A message that decoded but cannot be used."""

    reason: str  # MISSING_JOINTS | NON_FINITE | OUT_OF_RANGE
    detail: str  # the first offending joint and value, or the names that were missing


def checked_vector(convert: Callable[[], np.ndarray], columns: slice,
                   joint_range: JointRange, check_range: bool = True) -> np.ndarray | Rejected:
    """convert()'s vector (the `columns` of the robot's joint vector), or why it cannot be used.

    `check_range` False: only the joint set and finiteness are checked (a policy's proposal may lie
    outside the limits; the safety filter clips it before anything moves).
    """
    try:
        value = convert()
    except JointNameError as exc:
        return Rejected(MISSING_JOINTS, str(exc).split(": ", 1)[-1])
    names: Sequence[str] = joint_range.robot.joint_names[columns]
    finite = np.isfinite(value)
    if not finite.all():
        j = int(np.argmin(finite))
        return Rejected(NON_FINITE, f"{names[j]} = {value[j]}")
    if check_range:
        outside = joint_range.outside(value[None], columns)[0]
        if outside.any():
            j = int(np.argmax(outside))
            return Rejected(OUT_OF_RANGE, joint_range.describe((columns.start or 0) + j, value[j]))
    return value
