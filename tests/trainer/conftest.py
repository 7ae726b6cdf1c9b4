"""Tiny synthetic episodes and tiny model sizes for the trainer tests."""

from __future__ import annotations

import numpy as np
import pytest

from recap_trainer.episode import EpisodeData

TINY_MODEL = {"width": 32, "image_channels": (8, 8)}
TINY_POLICY = {"horizon": 8, "flow_width": 64, "flow_blocks": 1, "denoising_steps": 3}


def make_episode(
    episode_id: str,
    task: str = "transfer_cube",
    outcome: str = "success",
    steps: int = 30,
    source: str = "demo",
    state_dim: int = 4,
    intervention: np.ndarray | None = None,
    cameras: tuple[str, ...] = (),
    image_size: tuple[int, int] = (16, 16),
    seed: int = 0,
) -> EpisodeData:
    rng = np.random.default_rng(seed)
    qpos = np.cumsum(rng.normal(0, 0.01, (steps, 14)), axis=0)
    actions = qpos + 0.01
    return EpisodeData(
        episode_id=episode_id, task=task, outcome=outcome, source=source, iteration=0,
        timestamps=np.arange(steps) * 0.02, qpos=qpos,
        env_state=rng.normal(size=(steps, state_dim)) if state_dim else None,
        images={c: rng.integers(0, 255, (steps, *image_size, 3), dtype=np.uint8) for c in cameras},
        executed_action=actions, proposed_action=np.full((steps, 14), np.nan),
        intervention=np.zeros(steps, bool) if intervention is None else intervention,
        metadata={},
    )


def mixed_episodes(n: int = 6, task: str = "transfer_cube", **kw) -> list[EpisodeData]:
    """Alternating successes (shorter) and failures (longer)."""
    return [
        make_episode(f"{task}-{i}", task=task, outcome="success" if i % 2 == 0 else "failure",
                     steps=20 + 5 * i, seed=i, **kw)
        for i in range(n)
    ]


@pytest.fixture
def episodes() -> list[EpisodeData]:
    return mixed_episodes()


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core machine two threads per
    process contend badly."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def train_crashing_then_resume(monkeypatch, train, out, crash_on_batch: int = 4) -> None:
    """`train(out, resume=False)` interrupted (KeyboardInterrupt) when it draws batch
    `crash_on_batch`, then `train(out, resume=True)` to the end; `train` calls train_policy."""
    from recap_trainer.training.train_policy import PolicyBatches

    draw, calls = PolicyBatches.__call__, []

    def crash(self, *args):
        calls.append(1)
        if len(calls) == crash_on_batch:
            raise KeyboardInterrupt
        return draw(self, *args)

    monkeypatch.setattr(PolicyBatches, "__call__", crash)
    with pytest.raises(KeyboardInterrupt):
        train(out, resume=False)
    monkeypatch.setattr(PolicyBatches, "__call__", draw)
    train(out, resume=True)

