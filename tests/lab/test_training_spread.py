"""python -m recap_lab.experiments.training_spread: what it refuses before anything trains, and its
table (the retraining itself runs on a finished loop run in tests/lab/test_loop_quick.py)."""
import dataclasses
import json

import pytest

from recap_lab.evaluation import EpisodeResult, EvaluationConfig, EvaluationReport
from recap_lab.experiments.training_spread import check_inputs, main, spread_table
from recap_lab.self_improvement.config import PRESETS

CFG = dataclasses.replace(PRESETS["quick"], iterations=2)
RUN_FILES = ("data/demos", "data/rollouts_1", "data/rollouts_2", "train/iter_1/labels", "train/iter_2/labels",
             "train/pretrained/policy/config.json", "eval/iter_0.json", "eval/iter_1.json", "eval/iter_2.json")


def finished_run(run, cfg=CFG, leave_out=()):
    for name in RUN_FILES:
        if name not in leave_out:
            path = run / name
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("{}")
            else:
                path.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    return run


@pytest.mark.parametrize("iteration", [0, 3])
def test_an_iteration_the_run_did_not_fine_tune_is_refused(tmp_path, iteration):
    with pytest.raises(ValueError, match=r"--iteration must be 1\.\.2"):
        check_inputs(finished_run(tmp_path / "run"), iteration, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_run_without_what_pi_k_learnt_from_is_refused_naming_it(tmp_path):
    run = finished_run(tmp_path / "run", leave_out=("data/rollouts_2",))
    assert check_inputs(run, 1, tmp_path / "one")  # iteration 1 does not need the second deployments
    with pytest.raises(ValueError, match="missing .*rollouts_2"):
        check_inputs(run, 2, tmp_path / "two")
    scratch = finished_run(tmp_path / "scratch", dataclasses.replace(CFG, policy_init="scratch"),
                           leave_out=("train/pretrained/policy/config.json",))
    assert check_inputs(scratch, 2, tmp_path / "three")  # from random weights: pi_pre is not needed
    with pytest.raises(ValueError, match="missing .*pretrained"):
        check_inputs(finished_run(tmp_path / "pre", leave_out=("train/pretrained/policy/config.json",)), 1,
                     tmp_path / "four")
    with pytest.raises(ValueError, match="not a loop run directory"):
        check_inputs(tmp_path / "nothing", 1, tmp_path / "five")


def test_out_belongs_to_one_run_iteration_and_recipe(tmp_path):
    run, other = finished_run(tmp_path / "run"), finished_run(tmp_path / "other")
    out = tmp_path / "out"
    check_inputs(run, 1, out)
    (out / "seed_4").mkdir()
    check_inputs(run, 1, out)  # the same run and iteration again: resumes
    for source, k, ema_decay in ((run, 2, 0.0), (other, 1, 0.0), (run, 1, 0.999)):
        with pytest.raises(ValueError, match="holds the spread of"):
            check_inputs(source, k, out, ema_decay)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a training-spread directory"):
        check_inputs(run, 1, tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_the_command_refuses_repeated_seeds_and_bad_runs_before_training(tmp_path, capsys):
    run = finished_run(tmp_path / "run")
    assert main(["--run", str(run), "--seeds", "4", "4", "--out", str(tmp_path / "out")]) == 2
    assert "repeats a seed" in capsys.readouterr().err
    assert main(["--run", str(run), "--iteration", "5", "--seeds", "4", "--out", str(tmp_path / "out")]) == 2
    assert "--iteration must be" in capsys.readouterr().err
    assert main(["--run", str(run), "--seeds", "4", "--ema-decay", "1", "--out", str(tmp_path / "out")]) == 2
    assert "--ema-decay must be in [0, 1), got 1.0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def report(label, successes, episodes=4, duration=10.0):
    results = tuple(EpisodeResult(seed=i, outcome="success" if i < successes else "failure",
                                  failure_reason="" if i < successes else "timeout", steps=int(duration / 0.02),
                                  sim_time_s=duration, final_stage="done") for i in range(episodes))
    return EvaluationReport(label, EvaluationConfig(task="espresso", episodes=episodes), results, wall_time_s=1.0,
                            noise_scale=0.2)


def test_the_table_sets_each_training_against_pi_0_and_gives_the_range():
    text = spread_table(report("pi^0", 2), [report("pi^1 a", 3), report("pi^1 b", 1)])
    assert "| pi^1 a | 1.50x | 0.50x |" in text and "| pi^1 b | 0.50x | 1.50x |" in text
    assert "Over the 2 trainings: success 25.0%-75.0%, throughput 90-270/h." in text


def test_with_another_recipe_the_range_leaves_out_the_runs_own_training():
    text = spread_table(report("pi^0", 2), [report("pi^1 of the run", 1), report("pi^1 a", 3), report("pi^1 b", 2)],
                        ", weights averaged (ema_decay 0.999)")
    assert "| pi^1 of the run | 0.50x | 1.50x |" in text
    assert ("Over the 2 trainings, weights averaged (ema_decay 0.999): success 50.0%-75.0%, throughput 180-270/h."
            in text)
