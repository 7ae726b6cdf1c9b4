"""Policy rollouts with simulated-operator corrections, in-process, into a dataset (Algorithm 1's
"collect rollouts with pi^{k-1}, autonomous + human interventions").

The policy drives with chunked execution as evaluation does (query, execute `execute_steps` actions,
query again; `recap_model.chunk_scheduling.LockstepChunking`).
A simulated operator (recap_sim's `Operator` with a `TakeoverRule`) watches every step; when it
takes over, the clean scripted expert drives (intervention = True) until it hands back, then the
policy is queried afresh. Per step the dataset records the executed command and the policy's
proposal (NaN while the operator drives: the policy is not queried then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from recap_lab.evaluation import EXECUTE_STEPS
from recap_lab.seeds import ROLLOUT_SEED
from recap_model.chunk_scheduling import LockstepChunking
from recap_trainer.dataset import DatasetConfig, DatasetWriter
from recap_trainer.episode import EpisodeData


@dataclass(frozen=True)
class RolloutConfig:
    task: str
    episodes: int
    iteration: int  # k: rollouts of pi^{k-1} are data of iteration k
    seed: int = ROLLOUT_SEED  # episode i uses seed + i
    execute_steps: int = EXECUTE_STEPS  # actions executed per chunk
    guidance_scale: float = 1.0
    takeover: Any = None  # recap_sim.operator_policy.TakeoverRule; None = autonomous only
    time_limit_s: float | None = None
    extra_metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.iteration < 1 or self.execute_steps < 1 or self.seed < 0:
            raise ValueError(f"RolloutConfig: episodes, iteration, execute_steps must be >= 1, seed >= 0: {self}")


def rollout_id(task: str, iteration: int, seed: int) -> str:
    return f"{task}-rollout-it{iteration}-{seed:07d}"


def collect_episode(env, policy, config: RolloutConfig, seed: int) -> EpisodeData:
    from recap_sim.expert import ScriptedExpert
    from recap_sim.operator_policy import Mode, Operator, OperatorSignals
    from recap_sim.tasks import task_prompt

    observation = env.reset(seed=seed)
    operator = Operator(config.takeover) if config.takeover is not None else None
    if operator is not None:
        operator.new_episode(observation.time, seed=seed)
    expert = ScriptedExpert(env, seed=seed)
    chunks = LockstepChunking(config.execute_steps, int(policy.metadata["horizon"]))
    stage, done = 0, False
    times, qpos, state, executed, proposed, human = [], [], [], [], [], []
    while not done:
        correcting = False
        if operator is not None:
            decision = operator.update(OperatorSignals(time_s=observation.time, stage=stage, done=False,
                                                       follower_qpos=observation.qpos))
            correcting = decision.mode is Mode.CORRECT
        if correcting:
            command, proposal = np.asarray(expert.act(observation), float), np.full(14, np.nan)
            chunks.yield_step()
        else:
            if chunks.needs_chunk():
                chunk = policy.infer({"qpos": observation.qpos, "env_state": observation.env_state,
                                      "images": observation.images, "task": config.task},
                                     guidance_scale=config.guidance_scale)
                try:
                    chunks.add_chunk(np.asarray(chunk, float))
                except ValueError as error:
                    raise ValueError(f"seed {seed}, step {len(times)}: {error}") from error
            command = proposal = chunks.command()
        times.append(observation.time)
        qpos.append(observation.qpos)
        state.append(observation.env_state)
        executed.append(command)
        proposed.append(proposal)
        human.append(correcting)
        result = env.step(command)
        observation, stage, done = result.observation, result.stage, result.done
    return EpisodeData(
        episode_id=rollout_id(config.task, config.iteration, seed), task=config.task, outcome=result.outcome,
        source="rollout", iteration=config.iteration, timestamps=np.array(times), qpos=np.array(qpos),
        env_state=np.array(state), images={}, executed_action=np.array(executed),
        proposed_action=np.array(proposed), intervention=np.array(human, dtype=bool),
        metadata={"generator": "recap_lab.rollouts", "seed": seed, "policy": policy.metadata.get("policy_id"),
                  "prompt": task_prompt(config.task),
                  "failure_reason": result.failure_reason, "final_stage": result.stage_name,
                  "max_episode_length": int(env.max_steps), "state_names": list(env.state_names),
                  "takeovers": 0 if operator is None else operator.takeovers, **config.extra_metadata})


def collect_rollouts(policy, directory: str | Path, config: RolloutConfig, progress: bool = True) -> list[str]:
    """Append `config.episodes` state-only rollouts of `policy` to the dataset at `directory`;
    seeds already there are skipped (resumable). Returns the ids written now."""
    from recap_sim.blas_threads import one_blas_thread
    from recap_sim.env import SimConfig, SimEnv

    if policy.metadata.get("uses_images"):
        raise ValueError("collect_rollouts records state-only data; this policy needs cameras")
    if config.execute_steps > int(policy.metadata["horizon"]):
        raise ValueError(f"execute_steps {config.execute_steps} exceeds the policy's horizon H = "
                         f"{policy.metadata['horizon']}")
    env = SimEnv(SimConfig(task=config.task, time_limit_s=config.time_limit_s))
    writer = DatasetWriter(directory, config=DatasetConfig(control_period=env.control_period))
    done = set(writer.episode_ids)
    written = []
    try:
        seeds = [s for s in range(config.seed, config.seed + config.episodes)
                 if rollout_id(config.task, config.iteration, s) not in done]
        with one_blas_thread():  # the operator's scripted expert (torch's threads are not limited)
            for seed in tqdm(seeds, desc=f"rollouts {config.task} it{config.iteration}", disable=not progress):
                episode = collect_episode(env, policy, config, seed)
                writer.append(episode, origin=f"rollouts:{config.task}:it{config.iteration}:{seed}")
                written.append(episode.episode_id)
    finally:
        env.close()
    return written
