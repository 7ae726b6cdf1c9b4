"""Synthetic episodes for the dataset tests (no simulator needed)."""

from __future__ import annotations

import numpy as np
import pytest

from recap_trainer.dataset import EpisodeData


def make_episode(episode_id: str = "ep0", steps: int = 20, task: str = "transfer_cube",
                 outcome: str = "success", state_dim: int | None = 7,
                 cameras: tuple[str, ...] = (), image_size: tuple[int, int] = (8, 10),
                 seed: int = 0, **overrides) -> EpisodeData:
    rng = np.random.default_rng(seed)
    proposed = rng.normal(size=(steps, 14))
    proposed[: steps // 4] = np.nan  # no policy proposal at the start (e.g. a demo prefix)
    intervention = np.zeros(steps, dtype=bool)
    intervention[steps // 2: steps // 2 + 3] = True
    fields = dict(
        episode_id=episode_id, task=task, outcome=outcome, source="rollout", iteration=1,
        timestamps=np.arange(steps) * 0.02, qpos=rng.normal(size=(steps, 14)),
        env_state=None if state_dim is None else rng.normal(size=(steps, state_dim)),
        images={cam: rng.integers(0, 256, size=(steps, *image_size, 3), dtype=np.uint8) for cam in cameras},
        executed_action=rng.normal(size=(steps, 14)), proposed_action=proposed,
        intervention=intervention, metadata={"seed": seed})
    fields.update(overrides)
    return EpisodeData(**fields)


@pytest.fixture
def episode_factory():
    return make_episode
