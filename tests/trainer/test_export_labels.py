"""LeRobot export (state-only, no LeRobot needed): labels of other data are refused before anything
is written; what is written is in the form LeRobot 0.6 reads (tests/lerobot load it with LeRobot)."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from trainer.conftest import make_episode
from recap_core.output_files import OutputError
from recap_trainer.cli import main as recap_main
from recap_trainer.dataset import DatasetWriter, RecapDataset
from recap_trainer.labels import Labels
from recap_trainer.lerobot_export import ExportConfig, export_lerobot
from recap_trainer.lerobot_stats import QUANTILE_KEYS, aggregate, vector_stats

PROMPT = ExportConfig(prompts=(("transfer_cube", "transfer the cube to the left arm"),))


@pytest.fixture
def dataset(tmp_path):
    writer = DatasetWriter(tmp_path / "ds")
    for i, outcome in enumerate(("success", "failure", "abort")):
        writer.append(make_episode(f"ep{i}", outcome=outcome, steps=10, seed=i))
    return tmp_path / "ds"


def read(out, name):
    return pq.read_table(out / name).to_pydict()


def test_labels_of_another_dataset_are_refused_naming_the_ids(dataset, tmp_path):
    other = {f"other{i}": [True] * 10 for i in range(5)}
    with pytest.raises(ValueError, match="2 of its 3 episodes have no labels: ep0, ep1; the labels hold 5 episode"
                                         r"\(s\) the dataset lacks: other0, other1, other2 and 2 more"):
        export_lerobot(dataset, tmp_path / "lr", labels=other)
    assert not (tmp_path / "lr").exists() and [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_labels_of_the_wrong_length_are_refused_before_writing(dataset, tmp_path):
    with pytest.raises(ValueError, match="labels for episode ep1: 9 flags for 10 steps"):
        export_lerobot(dataset, tmp_path / "lr", labels={"ep0": [True] * 10, "ep1": [True] * 9})
    assert not (tmp_path / "lr").exists()


def test_matching_labels_export_and_a_finished_export_is_not_replaced(dataset, tmp_path):
    labels = {"ep0": [True] * 10, "ep1": [False] * 10, "more_data": [True] * 4}  # aborted ep2 needs none
    info = export_lerobot(dataset, tmp_path / "lr", labels=labels)
    assert info["total_episodes"] == 3 and "recap.indicator" in info["features"]
    assert json.loads((tmp_path / "lr" / "meta" / "info.json").read_text()) == info
    assert json.loads((tmp_path / "lr" / "meta" / "recap.json").read_text())["advantage_labels"] == "indicator only"
    with pytest.raises(OutputError, match="is not empty"):
        export_lerobot(dataset, tmp_path / "lr")
    assert "recap.indicator" not in export_lerobot(dataset, tmp_path / "lr", overwrite=True)["features"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "lr"]  # no staging left behind


def test_tasks_are_indexed_by_the_instruction_as_lerobot_reads_them(dataset, tmp_path):
    export_lerobot(dataset, tmp_path / "lr", config=PROMPT)
    table = pq.read_table(tmp_path / "lr" / "meta" / "tasks.parquet")
    # pandas (LeRobot's load_tasks) restores the "task" column as the index it looks texts up in.
    assert table.schema.pandas_metadata["index_columns"] == ["task"]
    assert table.to_pydict() == {"task_index": [0], "task": ["transfer the cube to the left arm"]}
    episodes = read(tmp_path / "lr", "meta/episodes/chunk-000/file-000.parquet")
    assert episodes["tasks"] == [["transfer the cube to the left arm"]] * 3
    assert episodes["recap/task"] == ["transfer_cube"] * 3


def test_environment_state_and_recap_columns_per_frame(dataset, tmp_path):
    ds = RecapDataset(dataset)
    flags = {"ep0": np.arange(10) < 4, "ep1": np.zeros(10, bool)}
    Labels(advantage={k: np.linspace(-1, 1, 10) for k in flags}, indicator=flags,
           value={k: np.full(10, 0.5) for k in flags}, returns={k: np.zeros(10) for k in flags},
           thresholds={"transfer_cube": 0.0}, info={"stage": "finetune"}).save(tmp_path / "labels")
    info = export_lerobot(dataset, tmp_path / "lr", labels=tmp_path / "labels")
    assert info["features"]["observation.environment_state"]["shape"] == [4]
    frames = read(tmp_path / "lr", "data/chunk-000/file-000.parquet")
    ep0, ep2 = slice(0, 10), slice(20, 30)
    np.testing.assert_allclose(frames["observation.environment_state"][ep0], ds.episode("ep0").env_state, atol=1e-6)
    assert frames["recap.indicator"][ep0] == [1] * 4 + [0] * 6
    assert frames["recap.indicator"][ep2] == [-1] * 10  # aborted: unlabelled
    np.testing.assert_allclose(frames["recap.advantage"][ep0], np.linspace(-1, 1, 10), atol=1e-6)
    assert np.isnan(frames["recap.value"][ep2]).all() and frames["recap.value"][0] == 0.5
    assert frames["recap.outcome"][::10] == [1, 0, -1] and set(frames["recap.iteration"]) == {0}


def test_stats_have_quantiles_for_every_feature_and_per_episode(dataset, tmp_path):
    info = export_lerobot(dataset, tmp_path / "lr")
    stats = json.loads((tmp_path / "lr" / "meta" / "stats.json").read_text())
    numeric = {k for k, v in info["features"].items() if v["dtype"] != "video"}
    # proposed_action is NaN throughout (demonstrations): no statistics, never a policy input.
    assert set(stats) == numeric - {"complementary_info.proposed_action"}
    for feature, s in stats.items():
        assert set(s) == {"min", "max", "mean", "std", "count", *QUANTILE_KEYS}, feature
    ds = RecapDataset(dataset)
    qpos = np.concatenate([ep.qpos for ep in ds])
    np.testing.assert_allclose(stats["observation.state"]["mean"], qpos.mean(0), atol=1e-6)
    np.testing.assert_allclose(stats["observation.state"]["std"], qpos.std(0), atol=1e-6)
    assert stats["observation.state"]["count"] == [30]
    episodes = read(tmp_path / "lr", "meta/episodes/chunk-000/file-000.parquet")
    np.testing.assert_allclose(episodes["stats/observation.state/q50"][1],
                               vector_stats(ds.episode("ep1").qpos)["q50"], atol=1e-12)
    assert episodes["stats/observation.state/count"] == [[10]] * 3
    assert episodes["stats/next.reward/max"] == [[1.0], [0.0], [0.0]]


def test_aggregated_quantiles_weight_episodes_by_count():
    a, b = vector_stats(np.arange(10.0)), vector_stats(np.arange(30.0))
    total = aggregate([a, b])
    assert total["count"].tolist() == [40] and total["min"] == 0 and total["max"] == 29
    np.testing.assert_allclose(total["q50"], (10 * a["q50"] + 30 * b["q50"]) / 40)
    np.testing.assert_allclose(total["std"], np.concatenate([np.arange(10.0), np.arange(30.0)]).std())
    assert abs(b["q50"][0] - 14.5) < 0.6 and abs(b["q99"][0] - 29) < 0.6  # histogram estimates


def test_episodes_with_different_env_state_sizes_are_refused(tmp_path):
    writer = DatasetWriter(tmp_path / "ds")
    writer.append(make_episode("four", state_dim=4))
    writer.append(make_episode("none", task="other_task", state_dim=0))
    with pytest.raises(ValueError, match="episodes differ in env_state size \\(four has 4, none has none\\)"):
        export_lerobot(tmp_path / "ds", tmp_path / "lr")
    assert not (tmp_path / "lr").exists()


def test_cli_prompt_option(dataset, tmp_path, capsys):
    assert recap_main(["dataset", "export-lerobot", str(dataset), "--out", str(tmp_path / "lr"),
                       "--prompt", "transfer_cube=transfer the cube"]) == 0
    assert read(tmp_path / "lr", "meta/tasks.parquet")["task"] == ["transfer the cube"]
    with pytest.raises(ValueError, match="--prompt 'transfer_cube': expected TASK=INSTRUCTION"):
        recap_main(["dataset", "export-lerobot", str(dataset), "--out", str(tmp_path / "other"),
                    "--prompt", "transfer_cube"])
    assert not (tmp_path / "other").exists()
