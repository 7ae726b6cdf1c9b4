"""The simulated operator: the takeover rule + the scripted expert, stepped with the simulation.

It runs inside the sim process, called by the physics thread after every control step, because the
scripted expert plans on the full simulation state (object poses, contacts) exactly as a human
operator sees the scene; a separate process would need a second copy of the physics kept in sync.
What it *does* goes through the human interfaces only: the leader arm poses it returns are
published on `/leader_*/joint_states` and its requests on `/takeover/request`.

Leader arms: while watching (and for `engage_s` after a takeover request) the leader is held at
the follower's current target (the command the follower arms hold; the measured pose before any
command), so the arbitration's pose-match check passes and a hand-over keeps the grip force on a
held object; while correcting, the scripted expert drives the leader, starting from that target.

Deviation: with the deviation trigger enabled, a *shadow* expert runs alongside the policy every
step (never executed) and the deviation is max |executed command - shadow command| over the 14
entries (rad; normalised grippers). It stays small while the policy does what the expert would
do, and grows when the policy heads elsewhere or grasps at the wrong time.
Shapes: qpos / commands (14,) in JOINT_NAMES order, grippers normalised.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from recap_sim.env import Observation, SimEnv
from recap_sim.expert import ExpertConfig, ScriptedExpert
from recap_sim.operator_policy import Mode, Operator, OperatorSignals, TakeoverRule


@dataclass(frozen=True)
class OperatorStep:
    leader: np.ndarray  # (14,) leader arm pose to publish, gripper normalised
    mode: Mode
    request: bool | None  # publish on /takeover/request now (True = take over, False = hand back)
    reason: str  # why, with `request`
    deviation: float | None  # latest deviation from the shadow expert, None if not measured


class SimulatedOperator:
    """Watches one episode at a time; `step` once per control step with the new observation."""

    def __init__(self, rule: TakeoverRule, expert_config: ExpertConfig = ExpertConfig()) -> None:
        self.rule = Operator(rule)
        self.expert_config = expert_config
        self.env: SimEnv | None = None
        self.expert: ScriptedExpert | None = None
        self._shadow = math.isfinite(rule.deviation_threshold)

    def new_episode(self, env: SimEnv, seed: int, time_s: float = 0.0) -> bool:
        """Call after every env reset (a new task means a new env, hence a new expert).

        Returns True when the reset came in the middle of a correction: the caller hands control
        back at once (before the episode's first step, so a recording started after the hand-back
        holds none of the previous episode's intervention)."""
        if env is not self.env:
            self.env = env
            self.expert = ScriptedExpert(env, self.expert_config, seed=self.rule.rule.seed)
        self.expert.reset()
        handback = self.rule.mode is not Mode.WATCH
        self.rule.new_episode(time_s, seed)
        self._deviation: float | None = None
        self._shadow_command: np.ndarray | None = None
        return handback

    def step(self, obs: Observation, stage: int, done: bool, executed: np.ndarray | None) -> OperatorStep:
        """`executed`: (14,) command the follower arms hold now (None before anyone commanded)."""
        target = obs.qpos.copy() if executed is None else np.asarray(executed, dtype=np.float64).copy()
        # The expert anchors on obs.qpos after a reset: give it the follower's target, not the
        # measured pose (a gripper squeezing an object measures more open than it is commanded).
        expert_obs = replace(obs, qpos=target)
        if self._shadow and self.rule.mode is Mode.WATCH:
            # The executed command was decided before this step: compare it with what the shadow
            # decided for the same step, then let the shadow decide the next one.
            if executed is not None and self._shadow_command is not None:
                self._deviation = float(np.max(np.abs(target - self._shadow_command)))
            self._shadow_command = self.expert.act(expert_obs)
        else:
            self._shadow_command = None
        decision = self.rule.update(OperatorSignals(obs.time, stage, done, obs.qpos, self._deviation))
        if decision.request is True:
            self.expert.reset()  # start correcting from the follower's target, not the shadow's path
            self._deviation = None
        if decision.mode is Mode.CORRECT:
            leader = self.expert.act(expert_obs)
        else:
            leader = target
        return OperatorStep(leader, decision.mode, decision.request, decision.reason, self._deviation)

    @property
    def takeovers(self) -> int:
        return self.rule.takeovers
