"""RECAP's "Advantage: positive/negative" text conditioning as a LeRobot processor step."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lerobot.datasets", reason="LeRobot runs in the Python 3.12 env: make test-py312")

import torch  # noqa: E402
from export_fixtures import INSTRUCTION, STEPS, export, offline, state_only_export  # noqa: E402,F401
from lerobot.processor import DataProcessorPipeline  # noqa: E402
from lerobot.processor.converters import batch_to_transition, transition_to_batch  # noqa: E402

from recap_trainer.lerobot_advantage import AdvantagePromptStep, conditioned_task  # noqa: E402

POSITIVE = INSTRUCTION + "\nAdvantage: positive"
NEGATIVE = INSTRUCTION + "\nAdvantage: negative"
# conftest's labels: ep-success frames 0..11 positive, 12..19 negative; ep-failure 20..24 positive,
# 25..44 negative; ep-abort 45..59 unlabelled.
EXPECTED = [POSITIVE] * 12 + [NEGATIVE] * 8 + [POSITIVE] * 5 + [NEGATIVE] * 20 + [INSTRUCTION] * 15


def pipeline(step: AdvantagePromptStep) -> DataProcessorPipeline:
    return DataProcessorPipeline([step], to_transition=batch_to_transition, to_output=transition_to_batch)


def test_text_form():
    assert conditioned_task("make an espresso", True) == "make an espresso\nAdvantage: positive"
    assert conditioned_task("make an espresso\n", False) == "make an espresso\nAdvantage: negative"


def test_training_text_follows_the_exported_indicator(export):
    step = pipeline(AdvantagePromptStep(dataset_root=str(export), dropout=0.0))
    index = torch.arange(sum(STEPS.values()))
    out = step({"task": [INSTRUCTION] * len(index), "index": index})
    assert out["task"] == EXPECTED
    assert step({"task": INSTRUCTION, "index": torch.tensor(3)})["task"] == POSITIVE  # one sample


def test_dropout_leaves_thirty_percent_unconditioned_and_is_seeded(export):
    labelled = torch.arange(45).repeat(100)  # 4500 labelled samples
    texts = pipeline(AdvantagePromptStep(dataset_root=str(export), seed=7))(
        {"task": [INSTRUCTION] * len(labelled), "index": labelled})["task"]
    dropped = np.mean([t == INSTRUCTION for t in texts])
    assert abs(dropped - 0.3) < 0.03  # 4 standard deviations
    assert all(t in (INSTRUCTION, EXPECTED[i]) for t, i in zip(texts, labelled.tolist()))
    again = pipeline(AdvantagePromptStep(dataset_root=str(export), seed=7))(
        {"task": [INSTRUCTION] * len(labelled), "index": labelled})["task"]
    assert again == texts


def test_inference_asks_for_positive(export):
    for step in (AdvantagePromptStep(), AdvantagePromptStep(dataset_root=str(export), inference=True)):
        assert pipeline(step)({"task": ["pour the coffee"] * 3})["task"] == ["pour the coffee\nAdvantage: positive"] * 3


def test_a_saved_pipeline_reloads_with_the_step_and_can_switch_to_inference(export, tmp_path):
    pipeline(AdvantagePromptStep(dataset_root=str(export), dropout=0.0, seed=3)).save_pretrained(tmp_path / "pre")
    config = next((tmp_path / "pre").glob("*.json")).read_text()
    assert "recap_trainer.lerobot_advantage.AdvantagePromptStep" in config  # imported by its class path
    loaded = DataProcessorPipeline.from_pretrained(tmp_path / "pre", config_filename=next(
        (tmp_path / "pre").glob("*.json")).name, to_transition=batch_to_transition, to_output=transition_to_batch)
    assert loaded({"task": [INSTRUCTION], "index": torch.tensor([13])})["task"] == [NEGATIVE]
    serving = DataProcessorPipeline.from_pretrained(
        tmp_path / "pre", config_filename=next((tmp_path / "pre").glob("*.json")).name,
        overrides={"AdvantagePromptStep": {"inference": True}},
        to_transition=batch_to_transition, to_output=transition_to_batch)
    assert serving({"task": [INSTRUCTION]})["task"] == [POSITIVE]


def test_bad_setup_is_named(export, tmp_path):
    with pytest.raises(ValueError, match="dropout must be in \\[0, 1\\), got 1.5"):
        AdvantagePromptStep(dropout=1.5)
    step = pipeline(AdvantagePromptStep(dataset_root=str(export)))
    with pytest.raises(ValueError, match="frame index 999 is outside .* \\(60 frames\\)"):
        step({"task": [INSTRUCTION], "index": torch.tensor([999])})
    with pytest.raises(ValueError, match="the batch has no `index`"):
        step({"task": [INSTRUCTION]})
    with pytest.raises(FileNotFoundError, match="not a LeRobot v3.0 dataset"):
        AdvantagePromptStep(dataset_root=str(tmp_path))
