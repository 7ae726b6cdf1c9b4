"""The value function's time input: a timed-out episode's return is set by the time left, which
the observation does not show."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recap_model.checkpoint import load_checkpoint
from recap_model.models.config import ObservationConfig, ValueConfig
from recap_model.models.value_model import ValueModel, elapsed_fraction
from recap_trainer.training.episodes import EpisodeCatalog
from recap_trainer.training.run import TrainConfig
from recap_trainer.training.train_value import predict_values, train_value
from recap_trainer.value_holdout import HoldoutConfig
from trainer.conftest import TINY_MODEL, make_episode

L = 40  # steps: every episode's time limit


def test_time_limits_are_one_per_task_and_positive():
    obs = ObservationConfig(tasks=("a", "b"))
    assert ValueConfig(observation=obs, time_limits=[10, 20]).time_limits == (10, 20)
    assert not ValueConfig(observation=obs).sees_time
    for bad in ((10,), (10, 0)):
        with pytest.raises(ValueError, match="one L >= 1 per task"):
            ValueConfig(observation=obs, time_limits=bad)


def test_elapsed_fraction_is_per_task_and_keeps_growing_past_L():
    config = ValueConfig(observation=ObservationConfig(tasks=("a", "b")), time_limits=(10, 40))
    got = elapsed_fraction(config, np.array([0, 1, 0, 1]), np.array([0, 20, 15, 60]))
    assert got.dtype == torch.float32 and got.tolist() == [0.0, 0.5, 1.5, 1.5]


def test_the_time_input_changes_the_value():
    config = ValueConfig(observation=ObservationConfig(width=16), time_limits=(L,), hidden=16)
    model = ValueModel(config).eval()
    batch = {"qpos": torch.zeros(2, 14), "task_id": torch.zeros(2, dtype=torch.long),
             "elapsed": torch.tensor([0.0, 1.0])}
    values = model.expected_value(model(batch))
    assert values[0] != values[1]
    with pytest.raises(KeyError):  # a V that sees time is never silently given none
        model({"qpos": torch.zeros(1, 14), "task_id": torch.zeros(1, dtype=torch.long)})


def timeouts_and_successes(n: int = 12) -> list:
    """Episodes whose observations tell nothing about the outcome (the same still arm, no object
    state): successes end by step 10, failures time out at L. Only the time tells them apart."""
    episodes = []
    for i in range(n):
        failed = i % 2 == 1
        ep = make_episode(f"e{i}", outcome="failure" if failed else "success", steps=L if failed else 10,
                          state_dim=0, seed=i)
        ep.qpos[:] = 0.0
        episodes.append(ep)
    return episodes


@pytest.mark.parametrize("time_input", [True, False])
def test_only_a_value_function_that_sees_the_time_knows_a_timeout_is_coming(tmp_path, time_input):
    catalog = EpisodeCatalog([timeouts_and_successes()])
    out = train_value(catalog, tmp_path / "v", TrainConfig(steps=300, batch_size=64, warmup_steps=10, lr=3e-3),
                      model_sizes=TINY_MODEL, holdout=HoldoutConfig(fraction=0.0), time_input=time_input)
    ckpt = load_checkpoint(out, "value")
    assert ckpt.config.time_limits == ((L,) if time_input else ())
    failed = next(ep for ep in catalog if ep.outcome == "failure")
    values = predict_values(ckpt.model, ckpt.stats, failed)
    # Realised return of a timeout at step t: -(L - 1 - t) - C_fail with C_fail = L, over L + C_fail.
    t = np.arange(L)
    returns = -((L - 1 - t) + L) / (2 * L)
    late = t >= 12  # every success has ended by then: only the failure is left
    error = np.abs(values[late] - returns[late]).mean()
    if time_input:
        assert error < 0.03 and abs(values[-1] - (-0.5)) < 0.05  # measured: 0.006, -0.515
    else:  # blind to time, V rates every step of every episode alike
        assert error > 0.07 and np.ptp(values) < 0.05  # measured: 0.098, a constant -0.61
