"""The profile oracle: keeps only the named operator's successful demonstrations, trains and
evaluates BC on them (resumable), and breaks labels down by demonstration profile."""
import json

import numpy as np
import pytest

from recap_lab.datagen import MIXTURES, DatagenConfig, ExpertProfile, generate_dataset
from recap_trainer.dataset import RecapDataset
from recap_lab.experiments.profile_oracle import main, positives_by_profile, write_profile_subset
from recap_trainer.labels import Labels
from recap_trainer.training.episodes import open_datasets

STEADY = ExpertProfile("steady", 1.0, speed=1.0, hesitation=0.0, noise=0.0, mistake_prob=0.0)


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """Two fast demonstrations (seeds 0, 1) and one steady one (seed 2), all successful."""
    path = tmp_path_factory.mktemp("oracle") / "demos"
    generate_dataset(path, DatagenConfig(task="transfer_cube", episodes=2, mixture=MIXTURES["expert"]), progress=False)
    generate_dataset(path, DatagenConfig(task="transfer_cube", episodes=3, mixture=(STEADY,)), progress=False)
    assert [e.outcome for e in RecapDataset(path)] == ["success"] * 3
    return path


def test_only_the_named_profiles_successes_are_kept(demos, tmp_path):
    assert write_profile_subset(demos, tmp_path / "fast", {"fast"}) == 2
    kept = RecapDataset(tmp_path / "fast")
    assert [e.metadata["profile"]["name"] for e in kept] == ["fast", "fast"]
    assert write_profile_subset(demos, tmp_path / "both", {"fast", "steady"}) == 3
    with pytest.raises(ValueError, match="no successful demonstration of profile"):
        write_profile_subset(demos, tmp_path / "none", {"hesitant"})
    assert not (tmp_path / "none").exists()


def test_labels_are_broken_down_by_profile(demos):
    catalog = open_datasets([demos])
    indicator = {s.episode_id: np.full(s.num_steps, "-0000002" not in s.episode_id) for s in catalog.summaries}
    labels = Labels(advantage={k: v.astype(np.float32) for k, v in indicator.items()}, indicator=indicator,
                    value={}, returns={}, thresholds={"transfer_cube": 0.0}, info={})
    rows = {line.split()[0]: line.split()[1:] for line in positives_by_profile(labels, catalog).splitlines()[1:]}
    # outcome, episodes, steps, positive fraction, share of all positive steps
    assert rows["demo:fast"][0:2] == ["success", "2"] and rows["demo:fast"][3:] == ["100.0%", "100.0%"]
    assert rows["demo:steady"][0:2] == ["success", "1"] and rows["demo:steady"][3:] == ["0.0%", "0.0%"]


def test_bc_on_the_fast_demonstrations_is_trained_evaluated_and_resumed(demos, tmp_path, capsys):
    out = tmp_path / "oracle"
    argv = ["--demos", str(demos), "--out", str(out), "--steps", "2", "--eval-episodes", "2", "--threads", "1"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.0 <= result["success_rate"] <= 1.0
    report = json.loads((out / "eval.json").read_text())
    assert report["episodes"] == 2 and report["config"]["seed"] == 1_000_000
    before = {p: p.stat().st_mtime_ns for p in (out / "policy").rglob("*") if p.is_file()}
    assert main(argv) == 0  # resumes: the checkpoint is not trained again
    assert {p: p.stat().st_mtime_ns for p in (out / "policy").rglob("*") if p.is_file()} == before


def test_bad_input_is_refused(demos, tmp_path, capsys):
    assert main(["--demos", str(demos), "--out", str(tmp_path / "a"), "--steps", "0"]) == 2
    assert main(["--demos", str(demos), "--out", str(tmp_path / "b"), "--profiles", "sloppy",
                 "--eval-episodes", "0"]) == 1
    assert "no successful demonstration of profile(s) ['sloppy']" in capsys.readouterr().err


def test_like_a_loop_run_it_trains_as_the_runs_baselines_and_evaluates_as_the_run(demos, tmp_path, capsys):
    import dataclasses
    import shutil

    from recap_lab.self_improvement.config import PRESETS
    from recap_lab.self_improvement.run import algorithm_config

    run = tmp_path / "run"
    cfg = dataclasses.replace(PRESETS["quick"], task="transfer_cube", eval_episodes=2, noise_scale=0.5, seed=3)
    shutil.copytree(demos, run / "data" / "demos")
    (run / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    out = tmp_path / "oracle"
    argv = ["--like-run", str(run), "--out", str(out), "--threads", "1", "--steps", "7"]
    assert main(argv) == 0
    trained = json.loads((out / "policy" / "config.json").read_text())["training"]
    assert trained["steps_done"] == algorithm_config(cfg).scratch_policy().steps != 7  # the run's budget
    report = json.loads((out / "eval.json").read_text())
    assert (report["episodes"], report["noise_scale"], report["sampler_seed"]) == (2, 0.5, 3)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert main(argv) == 0  # finished: nothing is trained or evaluated again
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    capsys.readouterr()
    assert main(["--like-run", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    assert "--like-run:" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["--out", str(tmp_path / "y")]) == 2
    assert "give --demos, or --like-run" in capsys.readouterr().err
