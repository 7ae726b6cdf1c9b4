"""The offline comparison: refuses to relabel a finished task's results with other sizes; its
document names each section's reproducing command; the n-step probe row trains on its own labels;
the document tabulates several training seeds."""
import json
import shutil
import shlex
from dataclasses import asdict

import pytest

from recap_lab.experiments.offline_comparison import (ExperimentConfig, _check_same_experiment, build_parser,
                                                          configs_from, main)
from recap_lab.experiments.offline_results_doc import reproduce_command

TINY = ["--task", "transfer_cube", "--train-episodes", "3", "--value-steps", "3", "--policy-steps", "3",
        "--batch-size", "4", "--eval-episodes", "2", "--threads", "1"]


def test_a_finished_task_rerun_with_other_sizes_is_refused(tmp_path):
    done = ExperimentConfig(task="transfer_cube", value_steps=2000, policy_steps=8000, threads=2)
    summary = tmp_path / "summary.json"
    _check_same_experiment(summary, done)  # nothing finished yet: anything goes
    summary.write_text(json.dumps({"config": asdict(done)}))
    _check_same_experiment(summary, ExperimentConfig(task="transfer_cube", value_steps=2000, policy_steps=8000,
                                                     threads=1))  # threads do not change results
    with pytest.raises(ValueError, match=r"policy_steps: 8000 \(done\) vs 3000 \(asked\)"):
        _check_same_experiment(summary, ExperimentConfig(task="transfer_cube", value_steps=2000))
    # the probe only adds (or drops) its own row, so a finished run may get it later
    _check_same_experiment(summary, ExperimentConfig(task="transfer_cube", value_steps=2000, policy_steps=8000,
                                                     probe_n_step=25))


def test_a_negative_probe_n_step_is_refused():
    with pytest.raises(ValueError, match="probe_n_step"):
        ExperimentConfig(task="transfer_cube", probe_n_step=-1)
    assert [v[0] for v in ExperimentConfig(task="transfer_cube", probe_n_step=0).variants()] == \
        ["bc", "filtered_bc", "awr", "recap", "recap", "recap"]


def test_the_probe_row_trains_on_n_step_labels_and_the_document_tabulates_seeds(tmp_path, capsys):
    work, doc = tmp_path / "seed0", tmp_path / "RESULTS.md"
    assert main(TINY + ["--work-dir", str(work), "--figures-dir", str(tmp_path / "fig"), "--probe-n-step", "20"]) == 0
    root = work / "transfer_cube"
    n_step = {p: json.loads((root / "policies" / p / "config.json").read_text())["training"]["labels"]["n_step"]
              for p in ("recap", "recap_nstep20", "awr")}
    assert n_step == {"recap": None, "recap_nstep20": 20, "awr": None}  # Monte Carlo for the paper's rows
    summary = json.loads((root / "summary.json").read_text())
    assert list(summary["evaluations"]) == ["bc", "filtered_bc", "awr", "recap_beta1", "recap_beta1.5",
                                            "recap_beta2.5", "recap_nstep20"]
    assert summary["labels"]["recap"]["threshold"] != summary["labels"]["recap_nstep20"]["threshold"]
    assert "recap_nstep20 vs plain BC, throughput" in capsys.readouterr().out
    # a second training seed: same results relabelled, so the table has two rows
    other = tmp_path / "seed7"
    shutil.copytree(work, other)
    summary["config"]["seed"] = 7
    (other / "transfer_cube" / "summary.json").write_text(json.dumps(summary))
    assert main(["--write-doc", "--work-dir", str(work), "--doc", str(doc), "--seed-dirs", str(other)]) == 0
    text = doc.read_text()
    assert "### transfer_cube over training seeds" in text and "20-step advantages" in text
    seed_rows = [line for line in text.splitlines() if line.startswith(("| 0 |", "| 7 |"))]
    assert len(seed_rows) == 2 and f"`{other}`" in seed_rows[1]
    assert (tmp_path / "fig" / "seeds_transfer_cube.png").stat().st_size > 0
    assert "throughput >= 1.5x BC on 0, throughput above filtered BC on 0 and above AWR on 0 of 2 seeds; all four on 0" in text


def test_each_results_section_names_the_command_that_reproduces_its_sizes(tmp_path):
    done = ExperimentConfig(task="espresso", train_episodes=600, value_steps=3000, policy_steps=12000,
                            positive_fraction=0.3, threads=2)
    command = shlex.split(reproduce_command(asdict(done), tmp_path / "work"))
    assert command[:3] == ["python", "-m", "recap_lab.experiments.offline_comparison"]
    args = build_parser().parse_args(command[3:])
    assert configs_from(args) == [done] and args.work_dir == tmp_path / "work"


def test_the_cli_needs_a_task_or_write_doc(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "--task" in capsys.readouterr().err
