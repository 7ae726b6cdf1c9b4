"""`recap-lab loop --sft-from RUN`: a run that starts from another run's SFT policy (the steps
themselves run in tests/lab/test_loop_quick.py)."""
import dataclasses
import json
import os

import pytest

from recap_lab.self_improvement.config import PRESETS
from recap_lab.self_improvement.ledger import Ledger
from recap_lab.self_improvement.report import _sft_source
from recap_lab.self_improvement.sft_reuse import start_from_sft

CFG = dataclasses.replace(PRESETS["quick"], reference_noise_scales=(0.5,), validation_episodes=2)
FILES = ("data/demos/manifest.json", "train/pretrained/policy/model.pt", "train/iter_0/policy/model.pt",
         "eval/iter_0.json", "eval/validation/iter_0_noise_0.5.json", "eval/reference/tuned.json")


def finished_sft(run, cfg=CFG, recorded_as=None, steps=None):
    """A loop run dir whose steps up to pi^0 (and the noise validation) are finished; its ledger
    records paths under `recorded_as` (the --workdir it was given), `run` by default."""
    for name in FILES:
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(name)
    (run / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    at = recorded_as or str(run)
    results = {"demos": 6, "pretrain": f"{at}/train/pretrained", "iter_0/train": f"{at}/train/iter_0/policy",
               "iter_0/evaluate": f"{at}/eval/iter_0.json",
               "iter_0/validate_noise": {"noise_scale": 0.5, "validation_throughput": {"0.2": 1.0, "0.5": 2.0}},
               "iter_0/evaluate_tuned": f"{at}/eval/reference/tuned.json"}
    ledger = Ledger(run / "ledger.json", machine="the source's machine")
    for step in steps or results:
        ledger.finish(step, results[step])
    return run


def test_a_run_with_other_labels_takes_over_the_sft_steps_by_hard_links(tmp_path):
    source = finished_sft(tmp_path / "mc")
    cfg = dataclasses.replace(CFG, finetune_n_step=50, finetune_positive_fraction=0.7, rollouts_per_iteration=5,
                              iterations=2, policy_init="scratch")
    work = tmp_path / "n50"
    ledger = Ledger(work / "ledger.json")
    taken = start_from_sft(source, work, cfg, ledger)

    assert taken == ["demos", "pretrain", "iter_0/train", "iter_0/evaluate", "iter_0/validate_noise",
                     "iter_0/evaluate_tuned"]
    again = Ledger(work / "ledger.json")  # what a resumed run reads
    assert again.finished_steps == [*taken, "sft_from"]
    assert again.result("sft_from")["run"] == str(source.resolve())
    assert again.result("iter_0/train") == str(work.resolve() / "train/iter_0/policy")
    assert again.result("iter_0/validate_noise")["noise_scale"] == 0.5
    assert again.machines == ["the source's machine", ledger.machine]  # the steps taken over ran there
    for name in FILES:
        assert os.path.samefile(work / name, source / name)
    assert not again.done("iter_1/train")
    assert "Started from the SFT policy of" in "\n".join(_sft_source(again))
    assert start_from_sft(source, work, cfg, again) == []  # the resumed run: nothing to do
    with pytest.raises(ValueError, match="started from the SFT policy of"):
        start_from_sft(finished_sft(tmp_path / "other"), work, cfg, again)


def test_other_reference_settings_take_over_pi0_but_not_its_noise_validation(tmp_path):
    source = finished_sft(tmp_path / "mc")
    cfg = dataclasses.replace(CFG, reference_noise_scales=(0.5, 1.0))
    work = tmp_path / "wider"
    ledger = Ledger(work / "ledger.json")
    assert start_from_sft(source, work, cfg, ledger) == ["demos", "pretrain", "iter_0/train", "iter_0/evaluate"]
    assert not (work / "eval" / "validation").exists() and not ledger.done("iter_0/validate_noise")


def test_paths_recorded_relative_to_where_the_source_ran_are_moved(tmp_path):
    source = finished_sft(tmp_path / "runs" / "mc", recorded_as="runs/mc")
    work = tmp_path / "runs" / "n50"
    ledger = Ledger(work / "ledger.json")
    start_from_sft(source, work, dataclasses.replace(CFG, finetune_n_step=50), ledger)
    assert ledger.result("pretrain") == str(work.resolve() / "train/pretrained")


@pytest.mark.parametrize("change, message", [
    ({"demos": 7}, "demos 6 there, 7 here"),
    ({"seed": 3}, "seed 0 there, 3 here"),
    ({"noise_scale": 0.5}, "noise_scale"),
    ({"cameras": ("cam_high",), "observation": "cameras"}, "observation 'sim-state' there"),
])
def test_a_source_with_other_sft_settings_is_refused_before_anything_is_written(tmp_path, change, message):
    source = finished_sft(tmp_path / "mc")
    cfg = dataclasses.replace(CFG, **change)
    work = tmp_path / "other"
    with pytest.raises(ValueError, match=f"SFT policy was made with other settings: .*{message}"):
        start_from_sft(source, work, cfg, Ledger(work / "ledger.json"))
    assert not work.exists()


def test_unfinished_or_foreign_sources_and_busy_work_dirs_are_refused(tmp_path):
    work = tmp_path / "new"

    def start(source, ledger=None):
        return start_from_sft(source, work, CFG, ledger or Ledger(work / "ledger.json"))

    with pytest.raises(ValueError, match="missing: iter_0/train, iter_0/evaluate"):
        start(finished_sft(tmp_path / "half", steps=["demos", "pretrain"]))
    with pytest.raises(ValueError, match="not a loop run directory"):
        start(tmp_path / "nothing")
    lost = finished_sft(tmp_path / "lost")
    (lost / "eval" / "iter_0.json").unlink()
    with pytest.raises(ValueError, match="lacks files of its finished steps: eval/iter_0.json"):
        start(lost)
    assert not work.exists()
    with pytest.raises(ValueError, match="names the work dir itself"):
        start_from_sft(lost, lost, CFG, Ledger(lost / "ledger.json"))

    source = finished_sft(tmp_path / "mc")
    ledger = Ledger(work / "ledger.json")
    ledger.finish("demos", 6)
    with pytest.raises(ValueError, match="has finished steps of its own"):
        start(source, ledger)
    (work / "ledger.json").unlink()
    (work / "eval").mkdir()
    (work / "eval" / "iter_0.json").write_text("mine")
    with pytest.raises(ValueError, match="already has eval/iter_0.json"):
        start(source)
    assert (work / "eval" / "iter_0.json").read_text() == "mine" and not (work / "data").exists()


def test_the_command_line_takes_one_run_from_a_source(tmp_path, capsys):
    from recap_lab.self_improvement.cli import build_parser, main

    assert build_parser().parse_args(["--sft-from", "runs/mc"]).sft_from.name == "mc"
    assert main(["--seeds", "0", "1", "--sft-from", str(tmp_path)]) == 2
    assert "--sft-from starts one run" in capsys.readouterr().err
