"""The loop report's advantage-label section: who each stage's labels call positive, by data source
(demonstrations, each iteration's rollouts) and outcome, and by phase of the successful episodes."""
from types import SimpleNamespace

import numpy as np

from recap_lab.self_improvement.report import label_section
from recap_trainer.labels import Labels


def _save(directory, indicators: dict[str, list[int]]) -> None:
    indicator = {ep: np.array(flags, bool) for ep, flags in indicators.items()}
    zeros = {ep: np.zeros(len(flags)) for ep, flags in indicator.items()}
    Labels(advantage=zeros, indicator=indicator, value=zeros, returns=zeros, thresholds={"t": 0.0},
           info={}).save(directory)


def _episode(episode_id: str, source: str, iteration: int, outcome: str) -> SimpleNamespace:
    return SimpleNamespace(episode_id=episode_id, source=source, iteration=iteration, outcome=outcome)


def test_each_stage_has_a_column_and_each_iterations_rollouts_a_row(tmp_path):
    summaries = [_episode("d0", "demo", 0, "success"), _episode("d1", "demo", 0, "failure"),
                 _episode("r1", "rollout", 1, "failure"), _episode("r2", "rollout", 2, "failure")]
    _save(tmp_path / "train" / "pretrained" / "labels", {"d0": [1, 0], "d1": [0, 0]})
    _save(tmp_path / "train" / "iter_1" / "labels", {"d0": [1, 1], "d1": [1, 0], "r1": [1, 1, 1, 0]})
    # iter_0 has no labels yet (an interrupted run): no column; r2 was never labelled: its row is empty.
    lines = label_section(tmp_path, iterations=2, summaries=summaries, finetune_positive_fraction=0.6)
    assert "pi^k: ~60 % of the rollouts' steps" in lines[2]  # the run's own setting
    header = next(line for line in lines if line.startswith("| data |"))
    assert header == "| data | outcome | episodes | pi_pre (V_pre) | pi^1 (V^1) |"
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:2]): line for line in lines
            if line.startswith("| demo") or line.startswith("| rollout")}
    assert rows[("demo", "success")] == "| demo | success | 1 | 50% | 100% |"
    assert rows[("demo", "failure")] == "| demo | failure | 1 | 0% | 50% |"
    assert rows[("rollout/iter_1", "failure")] == "| rollout/iter_1 | failure | 1 |  | 75% |"
    assert ("rollout/iter_2", "failure") not in rows
    # by fifth of the successful episodes (d0 only: 2 steps, in fifths 1 and 3)
    phases = lines[lines.index("| fifth of the episode | pi_pre (V_pre) | pi^1 (V^1) |") + 2:][:5]
    assert phases == ["| 1 | 100% | 100% |", "| 2 | 0% | 0% |", "| 3 | 0% | 100% |", "| 4 | 0% | 0% |",
                      "| 5 | 0% | 0% |"]
    assert [line.split(":")[0] + line.split("end:")[1].split(";")[0] for line in lines[-2:]] == [
        "- pi_pre (V_pre) 0% of their last fifth against 20% of all their steps",
        "- pi^1 (V^1) 0% of their last fifth against 40% of all their steps"]


def test_a_run_without_labels_says_so(tmp_path):
    lines = label_section(tmp_path, iterations=1, summaries=[_episode("d0", "demo", 0, "success")],
                          finetune_positive_fraction=0.4)
    assert lines[-1] == "No labels yet."
