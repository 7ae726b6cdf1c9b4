"""The offline comparison: refuses to relabel a finished task's results with other sizes; its
document names each section's reproducing command."""
import json
import shlex
from dataclasses import asdict

import pytest

from recap_trainer.experiments.offline_comparison import (ExperimentConfig, _check_same_experiment, build_parser,
                                                          configs_from, main, reproduce_command)


def test_a_finished_task_rerun_with_other_sizes_is_refused(tmp_path):
    done = ExperimentConfig(task="transfer_cube", value_steps=2000, policy_steps=8000, threads=2)
    summary = tmp_path / "summary.json"
    _check_same_experiment(summary, done)  # nothing finished yet: anything goes
    summary.write_text(json.dumps({"config": asdict(done)}))
    _check_same_experiment(summary, ExperimentConfig(task="transfer_cube", value_steps=2000, policy_steps=8000,
                                                     threads=1))  # threads do not change results
    with pytest.raises(ValueError, match=r"policy_steps: 8000 \(done\) vs 3000 \(asked\)"):
        _check_same_experiment(summary, ExperimentConfig(task="transfer_cube", value_steps=2000))


def test_each_results_section_names_the_command_that_reproduces_its_sizes(tmp_path):
    done = ExperimentConfig(task="espresso", train_episodes=600, value_steps=3000, policy_steps=12000,
                            positive_fraction=0.3, threads=2)
    command = shlex.split(reproduce_command(asdict(done), tmp_path / "work"))
    assert command[:3] == ["python", "-m", "recap_trainer.experiments.offline_comparison"]
    args = build_parser().parse_args(command[3:])
    assert configs_from(args) == [done] and args.work_dir == tmp_path / "work"


def test_the_cli_needs_a_task_or_write_doc(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "--task" in capsys.readouterr().err
