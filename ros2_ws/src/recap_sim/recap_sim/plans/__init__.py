"""Per-task plans of the scripted expert."""
from __future__ import annotations

from recap_sim.plans.base import ArmGoal, TaskPlan, WorldView
from recap_sim.plans.espresso import EspressoPlan
from recap_sim.plans.transfer_cube import TransferCubePlan

PLANS: dict[str, type[TaskPlan]] = {"transfer_cube": TransferCubePlan, "espresso": EspressoPlan}

__all__ = ["PLANS", "ArmGoal", "TaskPlan", "WorldView"]
