"""Mixed-quality demonstrations from the scripted expert, generated in-process into a dataset.

Every episode draws an operator *profile* (fast, steady, slow and hesitant, sloppy) from a
weighted mixture; the profile sets the scripted expert's quality knobs (speed, hesitation, noise,
mistake probability). This gives the spread RECAP needs: the same states are reached by fast and
slow operators, and some episodes fail in the expert's characteristic ways (a dropped or missed
object, a timeout). Episode `i` uses seed `seed + i` for the scene, the profile draw and the
expert, so a dataset is reproducible and generation resumes where it stopped (already ingested
seeds are skipped).
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from recap_lab.seeds import DEMONSTRATION_SEED
from recap_trainer.dataset import DatasetConfig, DatasetWriter
from recap_trainer.episode import EpisodeData
from recap_model.models.config import ObservationConfig


@dataclass(frozen=True)
class ExpertProfile:
    """One kind of operator: a share of the episodes and the expert's quality knobs."""

    name: str
    weight: float  # relative share of episodes
    speed: float  # motion speed multiplier (1 = nominal)
    hesitation: float  # probability-like amount of pausing / dithering (0 = none)
    noise: float  # command noise (rad)
    mistake_prob: float  # chance of a characteristic mistake per stage

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"profile name must be an identifier, got {self.name!r}")
        if self.weight <= 0 or self.speed <= 0 or self.hesitation < 0 or self.noise < 0:
            raise ValueError(f"profile {self.name!r}: weight, speed > 0 and hesitation, noise >= 0 required")
        if not 0 <= self.mistake_prob <= 1:
            raise ValueError(f"profile {self.name!r}: mistake_prob must be in [0, 1]")


# The default mixture: about a third of the data is fast and clean, the rest is slow or sloppy.
MIXTURES: dict[str, tuple[ExpertProfile, ...]] = {
    "mixed": (
        ExpertProfile("fast", 0.3, speed=1.5, hesitation=0.0, noise=0.005, mistake_prob=0.02),
        ExpertProfile("steady", 0.25, speed=1.0, hesitation=0.1, noise=0.01, mistake_prob=0.05),
        ExpertProfile("hesitant", 0.25, speed=0.6, hesitation=0.6, noise=0.01, mistake_prob=0.05),
        ExpertProfile("sloppy", 0.2, speed=1.0, hesitation=0.2, noise=0.03, mistake_prob=0.5),
    ),
    "expert": (ExpertProfile("fast", 1.0, speed=1.5, hesitation=0.0, noise=0.005, mistake_prob=0.0),),
}


@dataclass(frozen=True)
class DatagenConfig:
    task: str
    episodes: int  # how many episodes to produce (seeds seed .. seed + episodes - 1)
    seed: int = DEMONSTRATION_SEED
    mixture: tuple[ExpertProfile, ...] = field(default_factory=lambda: MIXTURES["mixed"])
    cameras: tuple[str, ...] = ()  # () = state-only data (fast)
    image_size: tuple[int, int] = ObservationConfig().image_size  # (H, W) when cameras are recorded: the image model's
    time_limit_s: float | None = None  # None = the task's own limit
    iteration: int = 0

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.seed < 0:
            raise ValueError(f"DatagenConfig: episodes must be >= 1 and seed >= 0, got {self.episodes}, {self.seed}")
        if not self.mixture:
            raise ValueError("DatagenConfig.mixture needs at least one profile")
        names = [p.name for p in self.mixture]
        if len(set(names)) != len(names):
            raise ValueError(f"DatagenConfig.mixture has duplicate profile names {names}")

    def profile_for(self, seed: int) -> ExpertProfile:
        """The profile of the episode with this seed (a pure function of the seed)."""
        weights = np.array([p.weight for p in self.mixture], dtype=float)
        rng = np.random.default_rng([seed, 0x5EED])
        return self.mixture[int(rng.choice(len(self.mixture), p=weights / weights.sum()))]


def episode_id(task: str, seed: int) -> str:
    return f"{task}-demo-{seed:07d}"


def origin(task: str, seed: int) -> str:
    return f"datagen:{task}:{seed}"


def generate_episode(env, config: DatagenConfig, seed: int) -> EpisodeData:
    """Run the scripted expert with this seed's profile until the episode ends; record every step.

    Step t pairs the observation o_t with the command a_t executed from it (T steps, the final
    observation after the last command is not stored)."""
    from recap_sim.expert import ExpertConfig, ScriptedExpert
    from recap_sim.tasks import task_prompt

    profile = config.profile_for(seed)
    expert_config = ExpertConfig(speed=profile.speed, hesitation=profile.hesitation, noise=profile.noise,
                                 mistake_prob=profile.mistake_prob)
    observation = env.reset(seed=seed)
    expert = ScriptedExpert(env, expert_config, seed=seed)
    times, qpos, state, actions = [], [], [], []
    frames: dict[str, list[np.ndarray]] = {camera: [] for camera in config.cameras}
    while True:
        command = np.asarray(expert.act(observation), dtype=np.float64)
        times.append(observation.time)
        qpos.append(observation.qpos)
        state.append(observation.env_state)
        for camera in config.cameras:
            frames[camera].append(observation.images[camera])
        actions.append(command)
        result = env.step(command)
        observation = result.observation
        if result.done:
            break
    steps = len(times)
    return EpisodeData(
        episode_id=episode_id(config.task, seed), task=config.task, outcome=result.outcome,
        source="demo", iteration=config.iteration, timestamps=np.array(times), qpos=np.array(qpos),
        env_state=np.array(state), images={camera: np.stack(f) for camera, f in frames.items()},
        executed_action=np.array(actions), proposed_action=np.full((steps, 14), np.nan),
        intervention=np.zeros(steps, dtype=bool),
        metadata={"generator": "recap_lab.datagen", "seed": seed, "profile": asdict(profile),
                  "prompt": task_prompt(config.task),
                  "failure_reason": result.failure_reason, "final_stage": result.stage_name,
                  "max_episode_length": int(env.max_steps), "control_period": env.control_period,
                  "state_names": list(env.state_names)})


def generate_dataset(directory: str | Path, config: DatagenConfig, progress: bool = True,
                     workers: int = 1) -> list[str]:
    """Append `config.episodes` expert episodes to the dataset at `directory`; returns the ids
    written now (seeds already in the dataset are skipped, so an interrupted run resumes).

    `workers` > 1 runs the expert in that many processes. An episode depends only on its seed and
    episodes are written in seed order, so the dataset is the same for any number of workers."""
    if workers < 1:
        raise ValueError(f"generate_dataset: workers must be >= 1, got {workers}")
    env = _make_env(config)
    dataset_config = DatasetConfig(control_period=env.control_period, cameras=config.cameras,
                                   image_size=config.image_size if config.cameras else None)
    writer = DatasetWriter(directory, config=dataset_config)
    seeds = _pending(writer, config)
    written = []
    with contextlib.ExitStack() as stack:
        stack.callback(env.close)
        if workers == 1 or len(seeds) < 2:
            from recap_sim.blas_threads import one_blas_thread

            stack.enter_context(one_blas_thread())
            episodes = (generate_episode(env, config, seed) for seed in seeds)
        else:
            # spawn, not fork: the parent may hold torch's thread pools, which do not survive a fork
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(
                min(workers, len(seeds)), initializer=_start_worker, initargs=(config,)))
            episodes = pool.imap(_worker_episode, seeds)
        for seed, episode in zip(seeds, tqdm(episodes, total=len(seeds), desc=f"generate {config.task}",
                                             disable=not progress)):
            writer.append(episode, origin=origin(config.task, seed))
            writer.mark_ingested(origin(config.task, seed))
            written.append(episode.episode_id)
    return written


def _make_env(config: DatagenConfig):
    from recap_sim.env import SimConfig, SimEnv

    return SimEnv(SimConfig(task=config.task, cameras=config.cameras, time_limit_s=config.time_limit_s,
                            **({"image_size": config.image_size} if config.cameras else {})))


_worker: tuple = ()  # (env, config) of a generation worker process


def _start_worker(config: DatagenConfig) -> None:
    from recap_sim.blas_threads import one_blas_thread

    global _worker
    one_blas_thread()
    _worker = (_make_env(config), config)


def _worker_episode(seed: int) -> EpisodeData:
    env, config = _worker
    return generate_episode(env, config, seed)


def _pending(writer: DatasetWriter, config: DatagenConfig) -> Sequence[int]:
    done = set(writer.ingested_sources)
    return [s for s in range(config.seed, config.seed + config.episodes) if origin(config.task, s) not in done]
