"""The simulated operator's ROS parameters (`operator.*` on the sim node), ROS-free.

`OPERATOR_PARAMETERS` lists name -> (default, description) for the node to declare;
`operator_settings(values)` turns the declared values into the validated configs.
In parameters a timeout or threshold of 0 disables that trigger (`inf` in TakeoverRule),
because ROS parameter files and `-p` have no portable spelling of infinity.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recap_core.aloha_layout import SIM_GRIPPER, GripperCalibration
from recap_sim.expert import ExpertConfig
from recap_sim.operator_policy import TakeoverRule

_RULE = TakeoverRule()
_OFF = " (0 disables)"
_DISABLED_BY_ZERO = ("stall_timeout_s", "stage_time_limit_s", "deviation_threshold")

OPERATOR_PARAMETERS: dict[str, tuple[Any, str]] = {
    "enabled": (False, "run the simulated operator (leader arms + /takeover/request)"),
    "stall_timeout_s": (_RULE.stall_timeout_s, "take over after no motion and no stage progress for this long" + _OFF),
    "stall_motion_rad": (_RULE.stall_motion_rad, "follower motion that counts as moving"),
    "stage_time_limit_s": (_RULE.stage_time_limit_s, "take over after this long in one stage" + _OFF),
    "deviation_threshold": (0.0, "take over when the executed command differs from the shadow expert's "
                                 "by more than this (rad)" + _OFF),
    "deviation_duration_s": (_RULE.deviation_duration_s, "... for this long"),
    "engage_s": (_RULE.engage_s, "leader holds the follower's target this long after the request"),
    "min_correction_s": (_RULE.min_correction_s, "correct at least this long"),
    "max_correction_s": (_RULE.max_correction_s, "hand back after this long without stage progress"),
    "max_takeovers_per_episode": (_RULE.max_takeovers_per_episode, "takeovers allowed per episode"),
    "takeover_probability": (_RULE.takeover_probability, "chance that a trigger leads to a takeover"),
    "seed": (_RULE.seed, "seed of the takeover randomness and the expert"),
    "expert_speed": (ExpertConfig().speed, "speed of the correcting scripted expert (1 = clean)"),
    "leader_gripper_closed": (SIM_GRIPPER.closed, "raw leader gripper reading when closed"),
    "leader_gripper_open": (SIM_GRIPPER.open, "raw leader gripper reading when open"),
}


@dataclass(frozen=True)
class OperatorSettings:
    enabled: bool
    rule: TakeoverRule
    expert: ExpertConfig
    leader_gripper: GripperCalibration  # raw units of the published leader joint states


def operator_settings(values: Mapping[str, Any]) -> OperatorSettings:
    """Validated settings from {name: value} of OPERATOR_PARAMETERS (without the `operator.` prefix).

    Raises ValueError naming the bad value; the rule is validated even when disabled, so a typo
    fails at start rather than when someone turns the operator on.
    """
    rule_fields = {k: values[k] for k in TakeoverRule.__dataclass_fields__}
    for name in _DISABLED_BY_ZERO:
        if rule_fields[name] <= 0:
            rule_fields[name] = math.inf
    return OperatorSettings(
        enabled=bool(values["enabled"]), rule=TakeoverRule(**rule_fields),
        expert=ExpertConfig(speed=values["expert_speed"]),
        leader_gripper=GripperCalibration(values["leader_gripper_closed"], values["leader_gripper_open"]))
