"""The time-input study runs both arms per seed on the same held-out episodes and resumes."""
import json

from recap_model.checkpoint import load_checkpoint
from recap_trainer.dataset import DatasetWriter
from trainer.conftest import mixed_episodes


def test_both_arms_per_seed_on_the_same_held_out_episodes_and_a_rerun_trains_nothing(tmp_path, monkeypatch):
    from recap_lab.experiments import value_time_input

    data = tmp_path / "demos"
    writer = DatasetWriter(data)
    for ep in mixed_episodes(12):
        writer.append(ep)
    args = ["--data", str(data), "--out", str(tmp_path / "out"), "--seeds", "0", "1", "--steps", "2",
            "--threads", "1"]
    assert value_time_input.main(args) == 0
    runs = json.loads((tmp_path / "out" / "results.json").read_text())["runs"]
    assert [(r["seed"], r["arm"]) for r in runs] == [(0, "no time"), (0, "time"), (1, "no time"), (1, "time")]
    for seed in (0, 1):
        arms = [r for r in runs if r["seed"] == seed]
        assert arms[0]["successes"] == arms[1]["successes"] and arms[0]["failures"] == arms[1]["failures"]
    for arm, sees_time in (("no_time", False), ("time", True)):
        assert load_checkpoint(tmp_path / "out" / "seed_0" / arm, "value").config.sees_time is sees_time

    monkeypatch.setattr(value_time_input, "train_value", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    assert value_time_input.main(args) == 0  # every checkpoint exists: nothing is trained again
