"""`recap replay`: a recorded bag through a (tiny, freshly trained) policy and value function."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from converter.bagfactory import BagSpec, write_rosbags

from recap_trainer.algorithm import label_with_value
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.episode_builder import EpisodeBuilder
from recap_trainer.cli import main as recap_main
from recap_trainer.labels import LabelConfig
from recap_trainer.training.episodes import EpisodeCatalog
from recap_trainer.training.run import TrainConfig
from recap_trainer.training.train_policy import train_policy
from recap_trainer.training.train_value import train_value

TINY_MODEL = {"width": 32, "image_channels": (8, 8)}
TINY_POLICY = {"horizon": 8, "flow_width": 64, "flow_blocks": 1, "denoising_steps": 3}
STATE_ONLY = ConverterConfig(cameras=(), image_size=None)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    bags = [write_rosbags(root / f"bag{i}", BagSpec(steps=30, outcome_event=1 + i % 2, command_step=0.01)) for i in range(3)]
    builder = EpisodeBuilder(STATE_ONLY)
    catalog = EpisodeCatalog([[builder.build(b)[0] for b in bags]])
    few = TrainConfig(steps=3, batch_size=8, warmup_steps=1)
    train_value(catalog, root / "iter" / "value", few, model_sizes=TINY_MODEL)
    labels = label_with_value(catalog, root / "iter" / "value", LabelConfig(stage="pretrain"))
    train_policy(catalog, root / "iter" / "policy", few, labels=labels, model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)
    return root, bags


def test_replay_writes_report_plots_and_per_step_advantage(trained, tmp_path, capsys):
    root, bags = trained
    out = tmp_path / "report"
    assert recap_main(["replay", str(bags[0]), "--checkpoint", str(root / "iter"), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["steps"] == 30 and report["value_checkpoint"].endswith("value")
    assert set(report["mae_vs_executed"]) == {f"{s}_{j}" for s in ("left", "right") for j in
                                              ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle",
                                               "wrist_rotate", "gripper")}
    assert report["mae_vs_recorded_proposal"] is not None and report["intervention_steps"] == 4
    rows = list(csv.DictReader(open(out / "steps.csv")))
    assert len(rows) == 30 and [r["intervention"] for r in rows[4:10]] == ["0", "1", "1", "1", "1", "0"]
    values = np.array([float(r["value"]) for r in rows])
    adv = np.array([float(r["advantage"]) for r in rows])
    assert np.isfinite(values).all() and np.isfinite(adv).all() and -1.5 <= values.min() <= values.max() <= 0.5
    executed = np.array([float(r["executed_left_waist"]) for r in rows])
    np.testing.assert_allclose(executed, 0.01 * np.arange(30))  # the recorded executed command, per step
    for png in ("actions.png", "value.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_replay_policy_only_without_value(trained, tmp_path):
    root, bags = trained
    from recap_trainer.replay import replay
    report = replay(bags[1], root / "iter" / "policy", tmp_path / "r")
    assert report["value_checkpoint"] is None and not (tmp_path / "r" / "value.png").exists()
    assert (tmp_path / "r" / "actions.png").exists()


def test_replay_skips_commands_the_arbiter_rejected(trained, tmp_path):
    root, _ = trained
    bag = write_rosbags(tmp_path / "badcmd", BagSpec(steps=30, command_step=0.01,
                                                     bad_proposals={4: "seven_joints", 10: "nan"}))
    from recap_trainer.replay import replay
    report = replay(bag, root / "iter" / "policy", tmp_path / "r")
    assert report["steps"] == 30 and report["mae_vs_recorded_proposal"] is not None
    assert any("/policy/command: 2 messages skipped" in w for w in report["warnings"])
