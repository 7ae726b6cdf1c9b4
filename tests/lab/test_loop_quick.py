"""The RECAP loop at --quick size, end to end through the ROS graph, and its resume after a crash."""
import dataclasses
import json
import logging
import os

import pytest
import torch
from safetensors.torch import load_file

from recap_lab.experiments import training_spread
from recap_lab.self_improvement import run as loop_run
from recap_lab.self_improvement.config import BASELINES, PRESETS
from recap_trainer.dataset import RecapDataset

pytestmark = pytest.mark.integration


def test_quick_loop_runs_end_to_end_and_resumes_after_a_crash(tmp_path, monkeypatch, caplog):
    cfg = PRESETS["quick"]
    caplog.set_level(logging.WARNING, logger="recap.loop")
    real_evaluate = loop_run._evaluate

    def crash_on_iter_1(policy_dir, cfg_, out, label):
        if out.name == "iter_1.json":
            raise RuntimeError("simulated crash while evaluating pi^1")
        return real_evaluate(policy_dir, cfg_, out, label)

    monkeypatch.setattr(loop_run, "_evaluate", crash_on_iter_1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        loop_run.run_loop(cfg, tmp_path)
    ledger = json.loads((tmp_path / "ledger.json").read_text())["steps"]
    episodes = [ledger[f"iter_1/deploy/episode_{i}"] for i in range(cfg.rollouts_per_iteration)]
    manifest_mtime = (tmp_path / "data" / "demos" / "manifest.json").stat().st_mtime_ns

    monkeypatch.setattr(loop_run, "_evaluate", real_evaluate)
    report = loop_run.run_loop(cfg, tmp_path)

    resumed = json.loads((tmp_path / "ledger.json").read_text())["steps"]
    assert [resumed[f"iter_1/deploy/episode_{i}"] for i in range(cfg.rollouts_per_iteration)] == episodes
    assert (tmp_path / "data" / "demos" / "manifest.json").stat().st_mtime_ns == manifest_mtime
    # The deployed policy node executed chunks as the evaluation does (plain scheduler, EXECUTE_STEPS).
    assert "scheduler=plain" in (tmp_path / "logs" / "iter_1" / "policy_node.log").read_text()
    for episode in episodes:  # one bag per deployed episode, with the recorder's sidecar
        meta = json.loads((tmp_path / "bags" / "iter_1" / episode["episode_id"] / "episode.json").read_text())
        assert meta["outcome"] == episode["outcome"] and meta["iteration"] == 1
    # Every deployed episode is converted, unless the converter refused it for having no action to
    # learn from: a barely trained espresso policy can tip the cup before its first command. (An
    # empty bag, "no usable messages", is not accepted: the sim waits paused for the recorder.)
    converted = {episode.episode_id for episode in RecapDataset(tmp_path / "data" / "rollouts_1")}
    refused = {e["episode_id"] for e in episodes if e["episode_id"] not in converted}
    assert converted and converted | refused == {e["episode_id"] for e in episodes}
    for episode_id in refused:
        reason = next(r.getMessage() for r in caplog.records if episode_id in r.getMessage())
        assert "not converted" in reason and any(
            why in reason for why in ("never overlap", "no action to learn from"))
    text = open(report).read()
    assert "SFT (pi^0)" in text and "RECAP iter 1 (pi^1)" in text and "interventions per deployed episode" in text
    assert (tmp_path / "report" / "by_iteration.png").stat().st_size > 0
    assert "No baselines in this run" in text
    assert "Machine (this report): " in text and "numpy BLAS" in text  # a seed's demos depend on the kernel
    # pi^1's labels are the loop's default Monte Carlo advantages, and the report says so.
    assert json.loads((tmp_path / "train" / "iter_1" / "labels" / "labels.json").read_text())["n_step"] is None
    assert "fine-tuning advantages: Monte Carlo" in text
    assert "## Advantage labels" in text and "| rollout/iter_1 |" in text

    # The same sizes with --baselines resume the finished run and only add the baselines.
    checkpoint = tmp_path / "train" / "iter_1" / "policy"
    before = {p: p.stat().st_mtime_ns for p in checkpoint.rglob("*") if p.is_file()}
    with_baselines = loop_run.run_loop(dataclasses.replace(cfg, baselines=BASELINES), tmp_path)
    assert {p: p.stat().st_mtime_ns for p in checkpoint.rglob("*") if p.is_file()} == before
    text = open(with_baselines).read()
    assert "## Baselines on the same data" in text and all(m in text for m in ("bc", "filtered_bc", "awr"))

    # A run with other fine-tuning labels starts from this run's SFT policy (--sft-from): it
    # deploys that pi^0 and fine-tunes from its pre-training, and leaves the source's files as they were.
    sft = [p for p in (tmp_path / "train").glob("[pi]*/**/*") if p.is_file() and "iter_1" not in p.parts]
    stamps = {p: p.stat().st_mtime_ns for p in sft}
    n5 = loop_run.run_loop(dataclasses.replace(cfg, finetune_n_step=5), tmp_path / "n5", sft_from=tmp_path)
    text = open(n5).read()
    assert f"Started from the SFT policy of `{tmp_path.resolve()}`" in text
    assert "fine-tuning advantages: 5-step" in text
    assert json.loads((tmp_path / "n5" / "train" / "iter_1" / "labels" / "labels.json").read_text())["n_step"] == 5
    assert all(os.path.samefile(p, tmp_path / "n5" / p.relative_to(tmp_path)) for p in sft)

    # pi^1 trained again with the run's own training seed is the loop's pi^1, evaluated alike
    # (python -m recap_lab.experiments.training_spread).
    spread = tmp_path / "spread"
    assert training_spread.main(["--run", str(tmp_path), "--seeds", str(cfg.seed), "--out", str(spread)]) == 0
    retrained, loops = (load_file(d / "model.safetensors") for d in (spread / f"seed_{cfg.seed}" / "policy", checkpoint))
    assert retrained.keys() == loops.keys() and all(torch.equal(retrained[k], loops[k]) for k in loops)
    outcomes = [[r["outcome"] for r in json.loads(path.read_text())["results"]]
                for path in (spread / f"seed_{cfg.seed}" / "eval.json", tmp_path / "eval" / "iter_1.json")]
    assert outcomes[0] == outcomes[1]
    assert "π^1 retrained (training seed" in (spread / "SPREAD.md").read_text()
    # The same with the weights averaged: the trained weights are the loop's, the checkpoint their average.
    averaged = tmp_path / "spread_ema"
    assert training_spread.main(["--run", str(tmp_path), "--seeds", str(cfg.seed), "--ema-decay", "0.9",
                                 "--out", str(averaged)]) == 0
    policy = averaged / f"seed_{cfg.seed}" / "policy"
    trained, average = (load_file(policy / name) for name in ("training_weights.safetensors", "model.safetensors"))
    assert all(torch.equal(trained[k], loops[k]) for k in loops)
    assert any(not torch.equal(average[k], loops[k]) for k in loops)
    assert f"π^1 retrained (training seed {cfg.seed}, weights averaged (ema_decay 0.9))" in (averaged / "SPREAD.md").read_text()
    assert {p: p.stat().st_mtime_ns for p in sft} == stamps
    assert (tmp_path / "n5" / "eval" / "iter_0.json").read_bytes() == (tmp_path / "eval" / "iter_0.json").read_bytes()


def test_quick_camera_loop_learns_from_cameras_and_joints_only_through_the_graph(tmp_path):
    """The camera loop at smoke-test size: demonstrations, deployments (the policy node reading the
    sim's camera topics, the recorder recording them) and evaluation all with the same cameras at
    the same size, and no model anywhere reading the simulator's object state."""
    from recap_lab.self_improvement.config import preset

    cfg = dataclasses.replace(preset("quick", "cameras"), cameras=("cam_high", "cam_left_wrist"), demos=4,
                              eval_episodes=2, reference_noise_scales=(0.5,), validation_episodes=2)
    loop_run.run_loop(cfg, tmp_path)
    # The baselines on the same images, added to the finished run.
    report = loop_run.run_loop(dataclasses.replace(cfg, baselines=BASELINES), tmp_path)
    checkpoints = [p.parent for p in tmp_path.glob("*/**/config.json") if p.parent.name in ("value", "policy")
                   or p.parent.parent.name == "baselines"]
    assert len(checkpoints) == 3 * 2 + len(BASELINES), checkpoints
    for checkpoint in checkpoints:
        observation = json.loads((checkpoint / "config.json").read_text())["model_config"]["observation"]
        assert (observation["state_dim"], observation["cameras"], observation["image_size"]) == \
            (0, ["cam_high", "cam_left_wrist"], list(cfg.image_size)), checkpoint
    for data in ("demos", "rollouts_1"):
        episodes = list(RecapDataset(tmp_path / "data" / data))
        assert episodes, data
        for episode in episodes:  # converted from the recorded camera topics, aligned to every step
            assert {c: im.shape[1:] for c, im in episode.images.items()} == \
                {c: (*cfg.image_size, 3) for c in cfg.cameras}
            assert all(len(im) == len(episode.qpos) for im in episode.images.values())
    node_log = (tmp_path / "logs" / "iter_1" / "sim_node.log").read_text()
    assert "cam_high" in node_log and f"{cfg.image_size[1]}x{cfg.image_size[0]}" in node_log
    # The SFT reference at its best noise, chosen on validation episodes, is evaluated too.
    assert (tmp_path / "eval" / "validation" / "iter_0_noise_0.5.json").is_file()
    assert (tmp_path / "eval" / "reference" / "tuned.json").is_file()
    # ... and so is every pi^k at that noise, so RECAP meets the tuned reference sampled alike.
    alike = json.loads((tmp_path / "eval" / "reference" / "iter_1.json").read_text())
    assert alike["noise_scale"] == json.loads((tmp_path / "eval" / "reference" / "tuned.json").read_text())["noise_scale"]
    text = open(report).read()
    assert "the cameras cam_high, cam_left_wrist at 64x48" in text
    assert "RECAP iter 1 (pi^1)" in text and ", sampled alike: throughput" in text
    assert "## Baselines on the same data" in text
    assert "suits it best (0.2, chosen on 2 validation episodes among 0.2, 0.5)" in text or \
        "suits it best (0.5, chosen on 2 validation episodes among 0.2, 0.5)" in text
