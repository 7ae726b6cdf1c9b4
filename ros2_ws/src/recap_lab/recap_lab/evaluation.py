"""Run a policy for N seeded episodes in the ROS-free sim core and measure it.

Chunked execution as the loop's deployed policy node executes chunks: the policy predicts an action
chunk a_{t:t+H} (H, D), the first `execute_steps` actions are executed at 50 Hz, then it is queried
again from the new observation (`recap_model.chunk_scheduling.LockstepChunking`).
Several environments run in lockstep so that chunk queries can be batched (`infer_batch` when the
policy has it, else one `infer` per environment); episode i always uses seed `seed + i`, so
results do not depend on `parallel_envs`.

Metrics (docs/EVALUATION.md): success rate and failure rate (= episodes that ended without success:
a task failure or the time limit) with Wilson 95 % intervals; mean time to success and throughput
(successes per hour of sim time, counting the time of failed episodes too) with percentile
bootstrap 95 % intervals over episodes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from recap_core.config_errors import check_field
from recap_core.output_files import write_json_atomic
from recap_lab.seeds import EVALUATION_SEED
from recap_lab.stats import Estimate, bootstrap_interval, wilson_interval
from recap_model.chunk_scheduling import LockstepChunking

ADVANTAGES = ("positive", "negative", "unconditioned")
# Actions executed per chunk before the policy is queried again (0.5 s at 50 Hz), in evaluations,
# rollouts and the loop's deployments alike.
EXECUTE_STEPS = 25


class ChunkPolicy(Protocol):
    """What evaluation needs of a policy (`recap_model.policy.load_policy(...)` returns one)."""

    metadata: Any  # dict (or object) with horizon, cameras, image_size

    def infer(self, obs: dict, advantage: str = "positive", guidance_scale: float = 1.0,
              frozen_prefix: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class EvaluationConfig:
    task: str  # sim task, e.g. "espresso"
    episodes: int = 200  # N seeded episodes
    seed: int = EVALUATION_SEED  # episode i uses seed + i
    execute_steps: int = EXECUTE_STEPS  # actions executed per chunk before re-querying
    advantage: str = "positive"  # indicator the policy is conditioned on
    guidance_scale: float = 1.0  # beta; > 1 = classifier-free guidance
    parallel_envs: int = 16  # environments stepped in lockstep (batched queries)
    time_limit_s: float | None = None  # None = the task's own limit

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_field(self.episodes >= 1, name, "episodes", "must be >= 1", self.episodes)
        check_field(self.seed >= 0, name, "seed", "must be >= 0", self.seed)
        check_field(self.execute_steps >= 1, name, "execute_steps", "must be >= 1", self.execute_steps)
        check_field(self.advantage in ADVANTAGES, name, "advantage", f"must be one of {ADVANTAGES}", self.advantage)
        check_field(self.guidance_scale > 0, name, "guidance_scale", "must be > 0", self.guidance_scale)
        check_field(self.parallel_envs >= 1, name, "parallel_envs", "must be >= 1", self.parallel_envs)
        check_field(self.time_limit_s is None or self.time_limit_s > 0, name, "time_limit_s",
                    "must be > 0", self.time_limit_s)


@dataclass(frozen=True)
class EpisodeResult:
    seed: int
    outcome: str  # "success" | "failure" (failure includes the time limit)
    failure_reason: str  # "" on success; the env's reason otherwise (e.g. "timeout after 16.0 s: cup not grasped")
    steps: int  # control steps until the episode ended
    sim_time_s: float
    final_stage: str
    max_stage: int = -1  # furthest task stage reached (index; the final stage can regress, e.g. a drop)
    num_stages: int = 0  # stages of the task (the last one = success)


@dataclass(frozen=True)
class EvaluationReport:
    label: str  # method name in tables
    config: EvaluationConfig
    results: tuple[EpisodeResult, ...]
    wall_time_s: float
    noise_scale: float | None = None  # the policy's sampling noise scale (policy.py), if it has one
    sampler_seed: int | None = None  # the seed of the policy's sampling noise, if it has one (None: not recorded)
    executor: str = "in-process"  # who ran the episodes: "in-process" (the sim core) | "graph" (graph_evaluation)
    success_rate: Estimate = field(init=False)
    failure_rate: Estimate = field(init=False)
    mean_time_to_success_s: Estimate = field(init=False)
    throughput_per_hour: Estimate = field(init=False)
    mean_progress: Estimate = field(init=False)  # max_stage / (num_stages - 1), NaN if not recorded

    def __post_init__(self) -> None:
        if not self.results:
            raise ValueError(f"{self.label}: an evaluation report needs at least one episode")
        for key, value in summarize(self.results).items():
            object.__setattr__(self, key, value)

    @property
    def failure_reasons(self) -> dict[str, int]:
        return dict(Counter(_reason_kind(r.failure_reason) for r in self.results if r.outcome != "success"))

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "config": asdict(self.config), "noise_scale": self.noise_scale,
                "sampler_seed": self.sampler_seed,
                "executor": self.executor, "wall_time_s": self.wall_time_s,
                "episodes": len(self.results),
                "success_rate": self.success_rate.to_dict(), "failure_rate": self.failure_rate.to_dict(),
                "mean_time_to_success_s": self.mean_time_to_success_s.to_dict(),
                "throughput_per_hour": self.throughput_per_hour.to_dict(),
                "mean_progress": self.mean_progress.to_dict(),
                "failure_reasons": self.failure_reasons,
                "results": [asdict(r) for r in self.results]}

    def save(self, path: str | Path) -> Path:
        """Strict JSON (an undefined metric, e.g. the time to success without successes, is null),
        written atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, self.to_dict(), indent=1)
        return path


def summarize(results: Sequence[EpisodeResult]) -> dict[str, Estimate]:
    success = np.array([r.outcome == "success" for r in results], dtype=float)
    durations = np.array([r.sim_time_s for r in results], dtype=float)
    n, wins = len(results), int(success.sum())

    def mean_success_time(success: np.ndarray, durations: np.ndarray) -> float:
        return float(durations[success > 0].mean()) if success.any() else float("nan")

    def per_hour(success: np.ndarray, durations: np.ndarray) -> float:
        return 3600.0 * float(success.sum()) / float(durations.sum())

    samples = {"success": success, "durations": durations}
    recorded = all(r.num_stages > 1 and r.max_stage >= 0 for r in results)
    progress = np.array([r.max_stage / (r.num_stages - 1) if recorded else np.nan for r in results], dtype=float)
    return {"success_rate": wilson_interval(wins, n), "failure_rate": wilson_interval(n - wins, n),
            "mean_time_to_success_s": bootstrap_interval(samples, mean_success_time),
            "throughput_per_hour": bootstrap_interval(samples, per_hour),
            "mean_progress": bootstrap_interval({"progress": progress}, lambda progress: float(progress.mean()))}


def evaluate_policy(policy: ChunkPolicy, config: EvaluationConfig, label: str = "policy",
                    progress: bool = True) -> EvaluationReport:
    """Run `config.episodes` seeded episodes of `policy` in the sim core; see the module docstring."""
    from recap_sim.env import SimConfig, SimEnv  # the sim core is only needed here

    cameras = tuple(_metadata(policy, "cameras", ()) or ())
    sim_config = SimConfig(task=config.task, cameras=cameras, time_limit_s=config.time_limit_s,
                           **({"image_size": tuple(_metadata(policy, "image_size"))} if cameras else {}))
    horizon = int(_metadata(policy, "horizon"))
    if config.execute_steps > horizon:
        raise ValueError(f"execute_steps {config.execute_steps} exceeds the policy's horizon H = {horizon}")
    envs = [SimEnv(sim_config) for _ in range(min(config.parallel_envs, config.episodes))]
    seeds = iter(range(config.seed, config.seed + config.episodes))
    slots: list[_Slot | None] = [_Slot.start(env, next(seeds), config.execute_steps, horizon) for env in envs]
    results: list[EpisodeResult] = []
    started = time.perf_counter()
    with tqdm(total=config.episodes, desc=f"evaluate {label} on {config.task}", disable=not progress) as bar:
        while any(slots):
            waiting = [s for s in slots if s is not None and s.chunks.needs_chunk()]
            if waiting:
                chunks = _infer(policy, [s.policy_input(config.task) for s in waiting], config)
                for slot, chunk in zip(waiting, chunks):
                    slot.add_chunk(chunk)
            for index, slot in enumerate(slots):
                if slot is None:
                    continue
                result = slot.step()
                if result is not None:
                    results.append(result)
                    bar.update(1)
                    seed = next(seeds, None)
                    slots[index] = None if seed is None else _Slot.start(slot.env, seed, config.execute_steps,
                                                                         horizon)
    for env in envs:
        env.close()
    results.sort(key=lambda r: r.seed)
    return EvaluationReport(label=label, config=config, results=tuple(results),
                            wall_time_s=time.perf_counter() - started,
                            noise_scale=_optional_metadata(policy, "noise_scale"),
                            sampler_seed=_optional_metadata(policy, "sampler_seed"))


class _Slot:
    """One environment running one episode, and the chunks it executes."""

    def __init__(self, env: Any, seed: int, observation: Any, chunks: LockstepChunking) -> None:
        self.env, self.seed, self.observation, self.chunks = env, seed, observation, chunks
        self.max_stage = 0

    @classmethod
    def start(cls, env: Any, seed: int, execute_steps: int, horizon: int) -> _Slot:
        return cls(env, seed, env.reset(seed=seed), LockstepChunking(execute_steps, horizon))

    def policy_input(self, task: str) -> dict[str, Any]:
        obs = self.observation
        return {"qpos": obs.qpos, "env_state": obs.env_state, "images": obs.images, "task": task}

    def add_chunk(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.shape != (self.chunks.horizon, 14) or not np.isfinite(chunk).all():
            raise ValueError(f"seed {self.seed}: policy returned a chunk of shape {chunk.shape} "
                             f"(expected ({self.chunks.horizon}, 14), finite)")
        self.chunks.add_chunk(chunk)

    def step(self) -> EpisodeResult | None:
        result = self.env.step(self.chunks.command())
        self.observation = result.observation
        self.max_stage = max(self.max_stage, int(result.stage))
        if not result.done:
            return None
        return EpisodeResult(seed=self.seed, outcome="success" if result.outcome == "success" else "failure",
                             failure_reason=result.failure_reason, steps=self.env.steps,
                             sim_time_s=self.env.steps * self.env.control_period, final_stage=result.stage_name,
                             max_stage=self.max_stage, num_stages=int(result.num_stages))


def _infer(policy: ChunkPolicy, inputs: list[dict], config: EvaluationConfig) -> list[np.ndarray]:
    batched = getattr(policy, "infer_batch", None)
    if batched is not None:
        return list(batched(inputs, advantage=config.advantage, guidance_scale=config.guidance_scale))
    return [policy.infer(obs, advantage=config.advantage, guidance_scale=config.guidance_scale)
            for obs in inputs]


def _optional_metadata(policy: ChunkPolicy, key: str) -> Any:
    """policy.metadata is a dict (load_policy) or an object with attributes; None if it lacks `key`."""
    metadata = policy.metadata
    return metadata.get(key) if isinstance(metadata, dict) else getattr(metadata, key, None)


def _metadata(policy: ChunkPolicy, key: str, default: Any = None) -> Any:
    """`key` of the policy's metadata, else `default`; an error if neither is given."""
    value = _optional_metadata(policy, key)
    if value is None:
        value = default
    if value is None:
        raise ValueError(f"policy metadata has no {key!r}")
    return value


def _reason_kind(reason: str) -> str:
    """Group failure reasons: "timeout after 16.0 s" -> "timeout", "timeout after 15.0 s: cup held
    at the spout, brewed" -> "timeout: cup held at the spout, brewed" (where the episode stalled)."""
    if reason.startswith("timeout"):
        _, _, stall = reason.partition(": ")
        return f"timeout: {stall}" if stall else "timeout"
    return reason or "unknown"
