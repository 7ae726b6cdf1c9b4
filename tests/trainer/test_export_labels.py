"""LeRobot export: labels of other data are refused before anything is written."""

import json

import pytest

from conftest import make_episode
from recap_core.output_files import OutputError
from recap_trainer.dataset import DatasetWriter
from recap_trainer.lerobot_export import export_lerobot


@pytest.fixture
def dataset(tmp_path):
    writer = DatasetWriter(tmp_path / "ds")
    for i, outcome in enumerate(("success", "failure", "abort")):
        writer.append(make_episode(f"ep{i}", outcome=outcome, steps=10, seed=i))
    return tmp_path / "ds"


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
    assert info["recap"]["advantage_labels"] and info["total_episodes"] == 3
    assert json.loads((tmp_path / "lr" / "meta" / "info.json").read_text()) == info
    with pytest.raises(OutputError, match="is not empty"):
        export_lerobot(dataset, tmp_path / "lr")
    assert export_lerobot(dataset, tmp_path / "lr", overwrite=True)["recap"]["advantage_labels"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "lr"]  # no staging left behind
