"""python -m recap_lab.experiments.outcomes_by_scene: evaluation outcomes binned by where each
episode's seed placed an object, recovered by resetting the task's simulation."""
import json

import numpy as np
import pytest

from recap_lab.evaluation import EpisodeResult, EvaluationConfig, EvaluationReport
from recap_lab.experiments.outcomes_by_scene import main, scene_values
from recap_sim.tasks.espresso import CUP_X_RANGE

SEEDS = list(range(1000, 1024))


def write_evaluation(path, label, outcomes, task="espresso"):
    """outcomes: seed -> (success, failure_reason, sim_time_s)."""
    results = tuple(EpisodeResult(seed, "success" if ok else "failure", reason, int(t / 0.02), t,
                                  "served" if ok else "start")
                    for seed, (ok, reason, t) in outcomes.items())
    return EvaluationReport(label, EvaluationConfig(task=task, episodes=len(results)), results, 1.0).save(path)


@pytest.fixture(scope="module")
def cup_x():
    return dict(zip(SEEDS, scene_values("espresso", SEEDS, "cup_x").tolist()))


def test_the_scenes_are_the_tasks_own_placements(cup_x):
    values = np.array(list(cup_x.values()))
    assert CUP_X_RANGE[0] <= values.min() and values.max() <= CUP_X_RANGE[1]
    assert len(set(values.tolist())) == len(SEEDS)  # every seed its own scene
    assert scene_values("espresso", SEEDS[:3], "cup_x").tolist() == [cup_x[s] for s in SEEDS[:3]]


def test_a_policy_that_tips_the_cup_on_one_side_shows_it_in_that_bin_only(tmp_path, capsys, cup_x):
    middle = (min(cup_x.values()) + max(cup_x.values())) / 2
    near_side = {s: (x > middle, "" if x > middle else "cup tipped over", 6.0 if x > middle else 1.5)
                 for s, x in cup_x.items()}
    everywhere = {s: (True, "", 7.0) for s in SEEDS}
    first = write_evaluation(tmp_path / "iter_2.json", "pi^2", near_side)
    second = write_evaluation(tmp_path / "iter_0.json", "pi^0", everywhere)
    assert main([str(first), str(second), "--bins", "2", "--plot", str(tmp_path / "plot" / "by_cup_x.png")]) == 0
    out = capsys.readouterr().out
    low = sum(x <= middle for x in cup_x.values())
    assert f"| episodes | {low} | {len(SEEDS) - low} |" in out
    rows = {line.split(" | ")[0]: line for line in out.splitlines() if line.startswith("| pi^")}
    assert f"0 [0, " in rows["| pi^2"].split(" | ")[1] and f", {low} early" in rows["| pi^2"]
    assert rows["| pi^2"].split(" | ")[2].startswith("100 [") and rows["| pi^0"].count("100 [") == 2
    assert f"cup tipped over {low}" in out
    assert (tmp_path / "plot" / "by_cup_x.png").read_bytes().startswith(b"\x89PNG")


def test_bad_input_is_named_before_any_work(tmp_path, capsys):
    good = write_evaluation(tmp_path / "good.json", "pi^0", {s: (True, "", 7.0) for s in SEEDS[:4]})
    (tmp_path / "no_results.json").write_text(json.dumps({"label": "x", "config": {"task": "espresso"}}))
    (tmp_path / "broken.json").write_text("{")
    cube = write_evaluation(tmp_path / "cube.json", "cube", {s: (True, "", 7.0) for s in SEEDS[:4]},
                            task="transfer_cube")
    record = json.loads(good.read_text())
    record["results"] = []
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(record))
    cases = {
        (str(tmp_path / "missing.json"),): "missing.json: not an evaluation report",
        (str(tmp_path / "no_results.json"),): "no_results.json: not an evaluation report",
        (str(tmp_path / "broken.json"),): "broken.json: not an evaluation report",
        (str(empty),): "empty.json: not an evaluation report",
        (str(good), str(cube)): "different tasks",
        (str(good), "--state", "cup_colour"): "choose from cup_x, cup_y",
        (str(good), "--bins", "0"): "--bins must be at least 1",
    }
    for argv, message in cases.items():
        assert main(list(argv)) == 2, argv
        assert message in capsys.readouterr().err, argv
