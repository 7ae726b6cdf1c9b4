"""The loop's resumable ledger and its configuration presets."""
import json

import pytest

from recap_bringup.loop.config import PRESETS, LoopConfig
from recap_bringup.loop.ledger import Ledger


def test_ledger_resumes_finished_steps(tmp_path):
    path = tmp_path / "ledger.json"
    ledger = Ledger(path, "abc")
    ledger.finish("demos", 6)
    ledger.finish("iter_1/deploy/episode_0", {"interventions": 2})
    ledger.finish("iter_1/deploy/episode_1", {"interventions": 0})
    again = Ledger(path, "abc")
    assert again.done("demos") and again.result("demos") == 6
    assert not again.done("pretrain")
    assert [r["interventions"] for r in again.results_under("iter_1/deploy/")] == [2, 0]
    assert json.loads(path.read_text())["config_hash"] == "abc"


def test_ledger_refuses_another_configuration(tmp_path):
    Ledger(tmp_path / "l.json", "abc").finish("demos", 1)
    with pytest.raises(ValueError, match="another configuration"):
        Ledger(tmp_path / "l.json", "xyz")


def test_config_hash_identifies_sizes():
    assert PRESETS["quick"].hash() != PRESETS["default"].hash()
    assert LoopConfig().hash() == LoopConfig().hash()
    assert LoopConfig(demos=599).hash() != LoopConfig().hash()
    # Baselines run after every other step and threads change no step: a finished run of the same
    # sizes resumes with them (the full preset adds the baselines to a default run).
    assert PRESETS["full"].baselines and not PRESETS["default"].baselines
    assert PRESETS["full"].hash() == PRESETS["default"].hash() == LoopConfig(train_threads=1).hash()
    with pytest.raises(ValueError, match="positive"):
        LoopConfig(train_threads=0)
    with pytest.raises(ValueError, match="positive"):
        LoopConfig(demos=0)


def test_the_command_line_overrides_the_preset_sizes():
    from recap_bringup.loop.cli import build_parser, config_from

    cfg = config_from(build_parser().parse_args(["--task", "transfer_cube", "--demos", "200", "--policy-steps", "8000",
                                                 "--value-steps", "2000", "--rollouts", "30"]))
    assert (cfg.task, cfg.demos, cfg.policy_steps, cfg.value_steps, cfg.rollouts_per_iteration) == \
        ("transfer_cube", 200, 8000, 2000, 30)
    assert cfg.eval_episodes == PRESETS["default"].eval_episodes  # not overridden: the preset's
    with pytest.raises(ValueError, match="positive"):
        config_from(build_parser().parse_args(["--policy-steps", "0"]))
    assert config_from(build_parser().parse_args(["--baselines"])).baselines
    assert not config_from(build_parser().parse_args(["--size", "full", "--no-baselines"])).baselines
    assert config_from(build_parser().parse_args(["--size", "full"])).baselines
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--baselines", "--no-baselines"])
