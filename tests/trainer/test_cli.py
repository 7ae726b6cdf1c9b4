"""`recap` commands: help texts and the Algorithm 1 loop on tiny data."""

import json

import numpy as np
import pytest

from trainer.conftest import make_episode, mixed_episodes
from recap_trainer.cli import build_parser, main
from recap_trainer.dataset import DatasetWriter
from recap_trainer.labels import Labels


def test_help_lists_the_training_commands(capsys):
    for command in ("train-value", "label", "train-policy", "iterate"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: recap " + command in capsys.readouterr().out
    assert {"train-value", "label", "train-policy", "iterate"} <= set(build_parser()._subparsers._group_actions[0].choices)


def test_iterate_fine_tunes_from_the_pretrained_checkpoints(tmp_path):
    demos, rollouts, work = tmp_path / "demos", tmp_path / "rollouts", tmp_path / "work"
    writer = DatasetWriter(demos)
    for ep in mixed_episodes(4):
        writer.append(ep)
    flags = np.zeros(40, bool)
    flags[15:30] = True
    writer = DatasetWriter(rollouts)
    writer.append(make_episode("r0", steps=40, source="rollout", intervention=flags, seed=7))
    writer.append(make_episode("r1", steps=35, source="rollout", outcome="failure", seed=8))
    common = ["--work-dir", str(work), "--demos", str(demos), "--value-steps", "2", "--policy-steps", "2",
              "--batch-size", "8"]
    assert main(["iterate", *common, "--iteration", "0"]) == 0
    assert main(["iterate", *common, "--data", str(rollouts), "--iteration", "1", "--n-step", "50"]) == 0

    pre = Labels.load(work / "pretrained" / "labels")
    assert pre.info["stage"] == "pretrain" and pre.info["n_step"] is None
    sft = Labels.load(work / "iter_0" / "labels")
    assert sft.info["stage"] == "sft" and all(sft.indicator[f"transfer_cube-{i}"].all() for i in range(4))
    fine = Labels.load(work / "iter_1" / "labels")
    assert fine.info["stage"] == "finetune" and fine.info["n_step"] == 50
    assert fine.indicator["r0"][15:30].all()  # human steps forced positive
    for k in (0, 1):
        for kind in ("value", "policy"):
            cfg = json.loads((work / f"iter_{k}" / kind / "config.json").read_text())
            assert cfg["training"]["init_from"] == str(work / "pretrained" / kind)
    from recap_model.checkpoint import load_checkpoint

    assert all(not load_checkpoint(work / d / "value", "value").config.sees_time  # the paper's V by default
               for d in ("pretrained", "iter_0", "iter_1"))
    assert main(["train-value", "--data", str(demos), "--out", str(tmp_path / "timed"), "--steps", "2",
                 "--batch-size", "8", "--time-input"]) == 0
    assert load_checkpoint(tmp_path / "timed", "value").config.time_limits == (35,)  # the demos' longest episode


def test_iterate_can_train_pi_k_from_scratch_for_the_whole_policy_budget(tmp_path):
    demos, rollouts, work = tmp_path / "demos", tmp_path / "rollouts", tmp_path / "work"
    writer = DatasetWriter(demos)
    for ep in mixed_episodes(4):
        writer.append(ep)
    DatasetWriter(rollouts).append(make_episode("r0", steps=35, source="rollout", outcome="failure", seed=8))
    common = ["--work-dir", str(work), "--demos", str(demos), "--value-steps", "2", "--policy-steps", "4",
              "--batch-size", "8", "--policy-init", "scratch"]
    assert main(["iterate", *common, "--iteration", "0"]) == 0
    assert main(["iterate", *common, "--data", str(rollouts), "--iteration", "1"]) == 0

    def training(k: int, kind: str) -> dict:
        return json.loads((work / f"iter_{k}" / kind / "config.json").read_text())["training"]

    # pi^0 (SFT) is fine-tuned from pi_pre either way; pi^1 starts from random weights, for 4 + 2 steps
    assert training(0, "policy")["init_from"] == str(work / "pretrained" / "policy")
    assert training(1, "policy")["init_from"] is None and training(1, "policy")["train_config"]["steps"] == 6
    assert training(1, "value")["init_from"] == str(work / "pretrained" / "value")  # V^k: from V_pre, as ever
    assert Labels.load(work / "iter_1" / "labels").info["stage"] == "finetune"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["iterate", "--work-dir", "w", "--demos", "d", "--iteration", "1",
                                   "--policy-init", "pi_k"])


def test_bad_input_is_one_error_line_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.argv", ["recap", "label", "--data", str(tmp_path / "nowhere"), "--value", str(tmp_path),
                                     "--out", str(tmp_path / "l")])
    assert main() == 1  # the console script: one line, exit status 1
    err = capsys.readouterr().err
    assert err.startswith("recap label: error: ") and "nowhere" in err and "Traceback" not in err


def test_iterate_defaults_are_the_algorithms():
    from recap_trainer.algorithm import AlgorithmConfig

    a = build_parser().parse_args(["iterate", "--work-dir", "w", "--demos", "d", "--iteration", "1"])
    product = AlgorithmConfig()
    assert (a.value_steps, a.policy_steps, a.n_step, a.positive_fraction, a.policy_init) == (
        product.pretrain_value.steps, product.pretrain_policy.steps, product.n_step,
        product.finetune_positive_fraction, product.policy_init) and product.policy_init == "pi_pre"
    # each fine-tune trains half the pre-training's steps
    assert (product.finetune_value.steps, product.finetune_policy.steps) == (a.value_steps // 2, a.policy_steps // 2)
    assert AlgorithmConfig.from_pretraining(product.pretrain_value, product.pretrain_policy) == product


def test_amp_reaches_the_training_config():
    from recap_trainer.cli.train import _train_config

    for command in ("train-policy", "train-value"):
        assert _train_config(build_parser().parse_args([command, "--data", "d", "--out", "o", "--amp"])).amp
        assert not _train_config(build_parser().parse_args([command, "--data", "d", "--out", "o"])).amp
