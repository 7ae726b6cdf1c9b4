"""Weight averaging (TrainConfig.ema_decay): the checkpoint holds the moving average of the trained
weights, the trained weights are kept to resume, and a resumed run ends where an uninterrupted one does."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from trainer.conftest import TINY_MODEL, TINY_POLICY, mixed_episodes, train_crashing_then_resume
from recap_model.checkpoint import CheckpointError, load_checkpoint
from recap_trainer.training.episodes import EpisodeCatalog
from recap_trainer.training.run import TrainConfig
from recap_trainer.training.train_policy import PolicyTrainConfig, train_policy
from recap_trainer.training.train_value import train_value
from recap_trainer.training.weight_average import WeightAverage

KW = dict(method=PolicyTrainConfig("bc"), model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)


@pytest.fixture(scope="module")
def catalog():
    return EpisodeCatalog([mixed_episodes(4)])


def weights(directory, name="model.safetensors"):
    return load_file(str(directory / name))


def test_the_average_follows_its_formula():
    model = nn.Linear(2, 1, bias=False)
    average = WeightAverage(model, decay=0.75)
    seen = []
    for w in ([1.0, 2.0], [3.0, -2.0], [0.0, 4.0]):
        with torch.no_grad():
            model.weight.copy_(torch.tensor([w]))
        average.update()
        seen.append(np.array(w))
    expected = seen[0]  # the first update copies the weights
    for w in seen[1:]:
        expected = 0.75 * expected + 0.25 * w
    np.testing.assert_allclose(average.module.weight.detach().numpy()[0], expected, rtol=1e-6)


def test_the_checkpoint_holds_the_average_and_keeps_the_trained_weights(tmp_path, catalog):
    config = TrainConfig(steps=6, batch_size=4, warmup_steps=1, lr=3e-3)
    train_policy(catalog, tmp_path / "plain", config, **KW)
    train_policy(catalog, tmp_path / "ema", replace(config, ema_decay=0.9), **KW)
    plain, averaged, trained = weights(tmp_path / "plain"), weights(tmp_path / "ema"), weights(
        tmp_path / "ema", "training_weights.safetensors")
    assert not (tmp_path / "plain" / "training_weights.safetensors").exists()
    # the same seed trains the same weights; only what the checkpoint holds differs
    assert all(torch.equal(plain[k], trained[k]) for k in plain)
    assert any(not torch.allclose(plain[k], averaged[k]) for k in plain)
    ckpt = load_checkpoint(tmp_path / "ema", "policy")
    assert ckpt.training["train_config"]["ema_decay"] == 0.9
    assert all(torch.equal(v, averaged[k]) for k, v in ckpt.model.state_dict().items())


def test_a_crashed_run_resumes_to_the_uninterrupted_average(tmp_path, catalog, monkeypatch):
    config = TrainConfig(steps=5, batch_size=4, warmup_steps=1, lr=3e-3, ema_decay=0.8)
    train_policy(catalog, tmp_path / "full", config, **KW)
    train_crashing_then_resume(monkeypatch, lambda out, resume: train_policy(catalog, out, config, resume=resume, **KW),
                               tmp_path / "part")
    for name in ("model.safetensors", "training_weights.safetensors"):
        full, part = weights(tmp_path / "full", name), weights(tmp_path / "part", name)
        assert all(torch.allclose(full[k], part[k], atol=1e-6) for k in full), name


def test_resuming_with_another_decay_is_refused_before_training(tmp_path, catalog):
    config = TrainConfig(steps=2, batch_size=4, warmup_steps=1, ema_decay=0.8)
    train_policy(catalog, tmp_path / "p", config, **KW)
    before = weights(tmp_path / "p")
    for decay in (0.0, 0.9):
        with pytest.raises(CheckpointError, match="trained with ema_decay 0.8"):
            train_policy(catalog, tmp_path / "p", TrainConfig(steps=4, batch_size=4, warmup_steps=1, ema_decay=decay),
                         resume=True, **KW)
    after = weights(tmp_path / "p")
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert json.loads((tmp_path / "p" / "config.json").read_text())["training"]["steps_done"] == 2


def test_the_value_function_is_checked_and_saved_as_its_average(tmp_path, catalog):
    train_value(catalog, tmp_path / "v", TrainConfig(steps=4, batch_size=8, warmup_steps=1, ema_decay=0.5),
                model_sizes=TINY_MODEL)
    assert (tmp_path / "v" / "training_weights.safetensors").is_file()
    assert load_checkpoint(tmp_path / "v", "value").training["train_config"]["ema_decay"] == 0.5


@pytest.mark.parametrize("decay", [-0.1, 1.0, 1.5])
def test_a_decay_outside_0_1_is_named(decay):
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(ema_decay=decay)
