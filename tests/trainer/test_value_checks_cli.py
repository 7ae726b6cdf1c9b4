"""`recap train-value` holds episodes out and scores V on them; `recap label --value-checks` acts on it."""

import json
import shutil

import numpy as np
import pytest

from trainer.conftest import TINY_MODEL, mixed_episodes
from recap_core.config_errors import FieldError
from recap_trainer.algorithm import AlgorithmConfig
from recap_trainer.cli import main
from recap_trainer.cli.options import UsageError
from recap_trainer.dataset import DatasetWriter
from recap_trainer.label_checks import ValueCheckError
from recap_trainer.labels import Labels
from recap_trainer.training.episodes import EpisodeCatalog
from recap_trainer.training.run import TrainConfig
from recap_trainer.training.train_value import train_value
from recap_trainer.value_holdout import HoldoutConfig

EPISODES = 12  # alternating successes and failures: enough to hold out one of each


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A dataset of 12 tiny episodes and a value function trained by the CLI on it (2 steps)."""
    root = tmp_path_factory.mktemp("value_checks")
    writer = DatasetWriter(root / "data")
    for ep in mixed_episodes(EPISODES):
        writer.append(ep)
    code = main(["train-value", "--data", str(root / "data"), "--out", str(root / "v"), "--steps", "2",
                 "--batch-size", "8", "--holdout-fraction", "0.1"])
    assert code == 0
    return root


def strict_json(path):
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path}: non-strict constant {c}"))


def test_train_value_writes_the_checks_of_its_held_out_episodes(trained, capsys):
    value = trained / "v"
    checks = strict_json(value / "value_checks.json")
    assert checks["population"] == "held-out" and checks["successes"] >= 1 and checks["failures"] >= 1
    assert [p["point"] for p in checks["separation"]] == ["0%", "25%", "50%", "75%", "last", "1 s", "5 s", "10 s"]
    assert checks["verdict"] in ("ok", "not ok") and checks["calibration"]["bins"]
    assert (value / "value_checks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    training = strict_json(value / "config.json")["training"]
    held = training["holdout"]["episodes"]
    assert len(held) == checks["successes"] + checks["failures"]
    assert training["episodes"] == EPISODES - len(held)  # trained on the others only
    assert training["holdout"]["fraction"] == 0.1 and training["holdout"]["seed"] == 0


def test_the_held_out_split_is_the_same_on_every_run(trained, tmp_path):
    catalog = EpisodeCatalog([mixed_episodes(EPISODES)])
    train_value(catalog, tmp_path / "again", TrainConfig(steps=1, batch_size=4), model_sizes=TINY_MODEL,
                holdout=HoldoutConfig(fraction=0.1, seed=0))
    again = json.loads((tmp_path / "again" / "config.json").read_text())["training"]["holdout"]["episodes"]
    assert again == json.loads((trained / "v" / "config.json").read_text())["training"]["holdout"]["episodes"]


def test_resuming_with_another_holdout_is_refused(trained, tmp_path):
    catalog = EpisodeCatalog([mixed_episodes(EPISODES)])
    train_value(catalog, tmp_path / "v", TrainConfig(steps=2, batch_size=4), model_sizes=TINY_MODEL,
                holdout=HoldoutConfig(fraction=0.1, seed=0))
    with pytest.raises(ValueError, match="--resume: .* held out 2 episode"):
        train_value(catalog, tmp_path / "v", TrainConfig(steps=4, batch_size=4), resume=True,
                    holdout=HoldoutConfig(fraction=0.0, seed=0))


def blind_value(monkeypatch):
    """A value function that rates every step at -0.01: it cannot see a failure coming."""
    monkeypatch.setattr("recap_trainer.algorithm.predict_values",
                        lambda model, stats, ep: np.full(len(ep.timestamps), -0.01))


def label(trained, out, *extra):
    return main(["label", "--data", str(trained / "data"), "--value", str(trained / "v"), "--out", str(out),
                 "--stage", "pretrain", *extra])


def test_refuse_writes_no_labels_from_a_value_function_that_fails(trained, tmp_path, monkeypatch):
    blind_value(monkeypatch)
    with pytest.raises(ValueCheckError, match="failed its checks, labels not written: .*does not see failures coming"):
        label(trained, tmp_path / "labels", "--value-checks", "refuse")
    assert not (tmp_path / "labels").exists()


def test_warn_writes_the_labels_with_their_checks(trained, tmp_path, monkeypatch, capsys, caplog):
    blind_value(monkeypatch)
    assert label(trained, tmp_path / "labels") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["value_checks"]["verdict"] == "not ok"
    assert "failed its checks" in caplog.text and "does not see failures coming" in caplog.text
    checks = Labels.load(tmp_path / "labels").info["value_checks"]
    held = json.loads((trained / "v" / "config.json").read_text())["training"]["holdout"]["episodes"]
    assert checks["population"] == "held-out" and checks["successes"] + checks["failures"] == len(held)
    assert label(trained, tmp_path / "off", "--value-checks", "off") == 0
    assert "value_checks" not in Labels.load(tmp_path / "off").info


def test_options_are_checked_before_training(trained, tmp_path):
    with pytest.raises(UsageError, match=r"--holdout-fraction must be in \[0, 0.5\), got 0.6"):
        main(["train-value", "--data", str(trained / "data"), "--out", str(tmp_path / "v"), "--holdout-fraction", "0.6"])
    with pytest.raises(UsageError, match=r"--holdout-fraction must be in \[0, 0.5\), got -0.1"):
        main(["iterate", "--work-dir", str(tmp_path / "w"), "--demos", str(trained / "data"), "--iteration", "0",
              "--holdout-fraction", "-0.1"])
    assert not (tmp_path / "v").exists() and not (tmp_path / "w").exists()
    with pytest.raises(FieldError, match="AlgorithmConfig.value_checks must be one of"):
        AlgorithmConfig(value_checks="strict")
    with pytest.raises(SystemExit):
        main(["label", "--data", "d", "--value", "v", "--out", "o", "--value-checks", "strict"])


def test_the_loop_report_shows_each_value_functions_checks(trained, tmp_path, monkeypatch):
    from recap_lab.self_improvement.report import value_check_section

    blind_value(monkeypatch)
    pre = tmp_path / "train" / "pretrained"
    shutil.copytree(trained / "v", pre / "value")
    assert label(trained, pre / "labels") == 0  # warned: its checks are in labels.json
    (tmp_path / "train" / "iter_0" / "value").mkdir(parents=True)
    shutil.copy(trained / "v" / "value_checks.json", tmp_path / "train" / "iter_0" / "value")  # labelled nothing
    lines = value_check_section(tmp_path, iterations=1)
    text = "\n".join(lines)
    v_pre = next(line for line in lines if line.startswith("| V_pre |"))
    assert "held-out" in v_pre and "| not ok | [value_checks.png](train/pretrained/value/value_checks.png) |" in v_pre
    assert "- V_pre: V does not see failures coming" in text
    assert next(line for line in lines if line.startswith("| V^0 |")).endswith("| none |")  # no figure copied
    assert "| V^1 | not checked |" in text
