"""`recap-lab evaluate` and `recap-lab report` check their outputs before the work and write strict JSON."""

from __future__ import annotations

import json

import pytest

from recap_core.output_files import OutputError
from recap_lab.cli import main as lab
from recap_trainer.cli.options import UsageError
from recap_lab.evaluation import EpisodeResult, EvaluationConfig, EvaluationReport
from recap_lab.report import load_report


def failures_only(episodes: int = 2) -> EvaluationReport:
    """No success: the mean time to success is undefined (NaN)."""
    results = tuple(EpisodeResult(seed=s, outcome="failure", failure_reason="timeout after 0.2 s", steps=10,
                                  sim_time_s=0.2, final_stage="reach") for s in range(episodes))
    return EvaluationReport(label="policy", config=EvaluationConfig(task="transfer_cube", episodes=episodes),
                            results=results, wall_time_s=1.0)


@pytest.fixture
def evaluations(monkeypatch):
    """Replaces the policy and the sim: each evaluation is recorded and returns `failures_only`."""
    calls = []
    monkeypatch.setattr("recap_model.policy.load_policy", lambda path, seed, noise_scale: object())
    monkeypatch.setattr("recap_lab.evaluation.evaluate_policy",
                        lambda policy, config, label: calls.append(config) or failures_only(config.episodes))
    return calls


def evaluate(out, *extra):
    return lab(["evaluate", "--policy", "ckpt", "--task", "transfer_cube", "--episodes", "2", "--out", str(out),
                 *extra])


def test_an_unwritable_out_is_refused_before_the_first_episode(tmp_path, evaluations, capsys, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="a_file is not a directory"):
        evaluate(blocker / "eval.json")
    assert evaluations == []
    monkeypatch.setattr("sys.argv", ["recap-lab", "evaluate", "--policy", "ckpt", "--task", "transfer_cube",
                                     "--out", str(blocker / "eval.json")])
    assert lab() == 2
    assert capsys.readouterr().err.startswith(f"recap-lab evaluate: error: --out {blocker / 'eval.json'}: ")


def test_an_existing_report_is_replaced_only_with_force(tmp_path, evaluations):
    out = tmp_path / "eval.json"
    out.write_text("{}")
    with pytest.raises(OutputError, match="exists; pass --force"):
        evaluate(out)
    assert evaluations == [] and out.read_text() == "{}"
    assert evaluate(out, "--force") == 0
    assert json.loads(out.read_text())["episodes"] == 2


def test_the_report_is_strict_json_with_null_for_an_undefined_metric(tmp_path, evaluations, capsys):
    out = tmp_path / "eval.json"
    assert evaluate(out) == 0

    def no_constants(name):
        raise AssertionError(f"{name} is not JSON")

    report = json.loads(out.read_text(), parse_constant=no_constants)
    assert report["mean_time_to_success_s"] == {"value": None, "low": None, "high": None}
    summary = capsys.readouterr().out.split("\n", 3)[-1]  # after the markdown table: the JSON summary
    assert json.loads(summary, parse_constant=no_constants)["success_rate"]["value"] == 0.0
    assert load_report(out).mean_time_to_success_s.format() == "n/a"


def test_evaluation_options_are_named_in_their_error(tmp_path, evaluations):
    with pytest.raises(UsageError, match="^--beta must be > 0, got 0.0$"):
        evaluate(tmp_path / "e.json", "--beta", "0")
    with pytest.raises(UsageError, match="^--episodes must be >= 1, got 0$"):
        lab(["evaluate", "--policy", "ckpt", "--task", "transfer_cube", "--episodes", "0"])
    with pytest.raises(UsageError, match="^--time-limit must be > 0, got -1.0$"):
        evaluate(tmp_path / "e.json", "--time-limit", "-1")
    with pytest.raises(UsageError, match="^--sampler-seed must be >= 0, got -1$"):
        evaluate(tmp_path / "e.json", "--sampler-seed", "-1")
    with pytest.raises(UsageError, match="^--sampler-seed: the policy node samples with seed 0"):
        evaluate(tmp_path / "e.json", "--sampler-seed", "3", "--through-graph")
    assert evaluations == []


def test_report_refuses_to_replace_its_files_without_force(tmp_path):
    evaluation = tmp_path / "eval.json"
    failures_only().save(evaluation)
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("an older report")
    with pytest.raises(OutputError, match="report.md exists; pass --force"):
        lab(["report", "--out", str(out), "--evaluations", str(evaluation)])
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]
    assert lab(["report", "--out", str(out), "--evaluations", str(evaluation), "--force"]) == 0
    assert "| policy |" in (out / "report.md").read_text()
    assert (out / "comparison.png").read_bytes().startswith(b"\x89PNG")
