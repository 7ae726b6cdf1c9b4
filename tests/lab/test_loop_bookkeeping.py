"""The loop's resumable ledger and its configuration presets."""
import dataclasses
import json

import pytest

from bringup.checkpoint_config import write_checkpoint_config
from recap_lab.self_improvement.config import PRESETS, LoopConfig, load_run_config
from recap_lab.self_improvement.ledger import Ledger, open_run_ledger


def test_ledger_resumes_finished_steps(tmp_path):
    path = tmp_path / "ledger.json"
    ledger = Ledger(path)
    ledger.finish("demos", 6)
    ledger.finish("iter_1/deploy/episode_0", {"interventions": 2})
    ledger.finish("iter_1/deploy/episode_1", {"interventions": 0})
    again = Ledger(path)
    assert again.done("demos") and again.result("demos") == 6
    assert not again.done("pretrain")
    assert [r["interventions"] for r in again.results_under("iter_1/deploy/")] == [2, 0]


def test_ledger_is_strict_json_even_for_an_episode_without_a_duration(tmp_path):
    # An episode aborted before the sim reported any state has sim_duration_s = NaN.
    Ledger(tmp_path / "ledger.json").finish("iter_1/deploy/episode_0", {"sim_duration_s": float("nan")})

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    data = json.loads((tmp_path / "ledger.json").read_text(), parse_constant=refuse)
    assert data["steps"]["iter_1/deploy/episode_0"] == {"sim_duration_s": None}
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.json"]


def test_a_work_dir_of_an_older_loop_is_refused_by_name(tmp_path):
    (tmp_path / "ledger.json").write_text(json.dumps({"config_hash": "abc", "steps": {"demos": 6}}))
    with pytest.raises(ValueError, match="made by an older version of the loop; start a new workdir"):
        Ledger(tmp_path / "ledger.json")


def _run_made_with(workdir, config: dict):
    workdir.mkdir()
    (workdir / "config.json").write_text(json.dumps(config))
    Ledger(workdir / "ledger.json").finish("demos", 6)
    return workdir


def test_a_run_is_resumed_only_with_its_own_settings_and_the_refusal_names_them(tmp_path):
    run = _run_made_with(tmp_path / "run", dataclasses.asdict(LoopConfig()))
    assert open_run_ledger(run, dataclasses.replace(LoopConfig(), train_threads=1)).done("demos")
    with pytest.raises(ValueError, match=r"other settings \(demos 600 there, 599 here; seed 0 there, 3 here\); "
                                         "use another --workdir"):
        open_run_ledger(run, LoopConfig(demos=599, seed=3))
    assert open_run_ledger(tmp_path / "new", LoopConfig(seed=3)).finished_steps == []


def test_a_run_made_before_a_setting_existed_resumes_with_that_settings_default(tmp_path):
    # A config.json without policy_init (added later; its default is what runs did before it).
    before = {k: v for k, v in dataclasses.asdict(LoopConfig()).items() if k != "policy_init"}
    run = _run_made_with(tmp_path / "run", before)
    assert open_run_ledger(run, LoopConfig()).done("demos")
    with pytest.raises(ValueError, match="policy_init 'pi_pre' there, 'scratch' here"):
        open_run_ledger(run, LoopConfig(policy_init="scratch"))


def test_settings_read_back_from_config_json_are_the_same_settings(tmp_path):
    cfg = LoopConfig(observation="cameras", cameras=("cam_high",), image_size=(32, 40), takeover_deviation=(0.3, 1),
                     reference_noise_scales=(0.5, 1), baselines=("bc",), finetune_n_step=50, seed=2)
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    assert load_run_config(tmp_path).differences(cfg, ignored=()) == []


def test_a_ledger_without_the_runs_settings_is_refused(tmp_path):
    Ledger(tmp_path / "ledger.json").finish("demos", 6)
    with pytest.raises(ValueError, match="not a loop run directory of this version"):
        open_run_ledger(tmp_path, LoopConfig())
    (tmp_path / "config.json").write_text(json.dumps({**dataclasses.asdict(LoopConfig()), "retired_setting": 1}))
    with pytest.raises(ValueError, match="not a loop run directory of this version"):
        open_run_ledger(tmp_path, LoopConfig())


def test_the_identity_leaves_out_what_changes_no_step():
    assert PRESETS["quick"].differences(PRESETS["default"])
    assert not LoopConfig().differences(LoopConfig())
    assert LoopConfig(demos=599).differences(LoopConfig()) == ["demos 599 there, 600 here"]
    # Baselines run after every other step and threads change no step: a finished run of the same
    # sizes resumes with them (the full preset adds the baselines to a default run).
    assert PRESETS["full"].baselines and not PRESETS["default"].baselines
    assert not PRESETS["full"].differences(PRESETS["default"])
    assert not PRESETS["default"].differences(LoopConfig(train_threads=1))
    with pytest.raises(ValueError, match="positive"):
        LoopConfig(train_threads=0)
    with pytest.raises(ValueError, match="positive"):
        LoopConfig(demos=0)


def test_the_command_line_overrides_the_preset_sizes():
    from recap_lab.self_improvement.cli import build_parser, config_from

    cfg = config_from(build_parser().parse_args(["--task", "transfer_cube", "--demos", "200", "--policy-steps", "8000",
                                                 "--value-steps", "2000", "--rollouts", "30"]))
    assert (cfg.task, cfg.demos, cfg.policy_steps, cfg.value_steps, cfg.rollouts_per_iteration) == \
        ("transfer_cube", 200, 8000, 2000, 30)
    assert cfg.eval_episodes == PRESETS["default"].eval_episodes  # not overridden: the preset's
    with pytest.raises(ValueError, match="positive"):
        config_from(build_parser().parse_args(["--policy-steps", "0"]))
    parse = lambda *args: config_from(build_parser().parse_args(list(args)))  # noqa: E731
    assert parse("--baselines").baselines == ("bc", "filtered_bc", "awr")
    assert parse("--baselines", "filtered_bc", "bc", "filtered_bc").baselines == ("filtered_bc", "bc")
    assert parse("--size", "full", "--no-baselines").baselines == ()
    assert parse("--size", "full").baselines == ("bc", "filtered_bc", "awr")
    assert parse("--size", "full", "--baselines", "awr").baselines == ("awr",)
    assert parse().baselines == ()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--baselines", "dagger"])
    with pytest.raises(ValueError, match="baselines must be distinct names"):
        LoopConfig(baselines=("bc", "ppo"))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--baselines", "--no-baselines"])
    with pytest.raises(SystemExit):  # deployments always execute chunks as the evaluation does
        build_parser().parse_args(["--deploy-chunking", "rtc"])


def test_deployments_execute_chunks_as_the_evaluation_does_unless_told_otherwise(tmp_path):
    from recap_bringup.deployment import DeploymentConfig, deployment_graph
    from recap_lab.evaluation import EXECUTE_STEPS

    def policy_parameters(**kw):
        cfg = DeploymentConfig(task="espresso", prompt="p", episodes=1, first_seed=1, wall_timeout_s=1.0, **kw)
        policy = write_checkpoint_config(tmp_path / "policy", state_dim=15)
        return next(s for s in deployment_graph(policy, tmp_path, cfg) if s.name == "policy_node").parameters

    aligned = policy_parameters(execute_steps=EXECUTE_STEPS)
    assert (aligned["scheduler"], aligned["inference_every"]) == ("plain", EXECUTE_STEPS)
    default = policy_parameters()  # the robot configuration's chunking is left alone
    assert default["scheduler"] == "rtc" and "inference_every" not in default


def test_the_operators_deviation_trigger_can_be_set_for_deployments(tmp_path):
    from recap_lab.self_improvement.cli import build_parser, config_from
    from recap_bringup.deployment import DeploymentConfig, deployment_graph

    def sim_parameters(**kw):
        cfg = DeploymentConfig(task="espresso", prompt="p", episodes=1, first_seed=1, wall_timeout_s=1.0, **kw)
        policy = write_checkpoint_config(tmp_path / "policy", state_dim=15)
        return next(s for s in deployment_graph(policy, tmp_path, cfg) if s.name == "sim_node").parameters

    default = sim_parameters()
    assert (default["operator.deviation_threshold"], default["operator.deviation_duration_s"]) == (1.2, 0.5)  # aloha_sim.yaml
    attentive = sim_parameters(takeover_deviation=(0.7, 0.1))
    assert (attentive["operator.deviation_threshold"], attentive["operator.deviation_duration_s"]) == (0.7, 0.1)

    cfg = config_from(build_parser().parse_args(["--takeover-deviation", "0.7", "0.1"]))
    assert cfg.takeover_deviation == (0.7, 0.1)
    assert cfg.differences(LoopConfig())  # it changes the deployments' data
    with pytest.raises(ValueError, match="takeover_deviation"):
        LoopConfig(takeover_deviation=(0.7, 0.0))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--takeover-deviation", "0.7"])


def test_fine_tuning_advantages_are_monte_carlo_unless_n_step_is_asked_for():
    from recap_lab.self_improvement.cli import build_parser, config_from
    from recap_lab.self_improvement.run import algorithm_config

    def parsed(*argv):
        return config_from(build_parser().parse_args(list(argv)))

    assert LoopConfig().finetune_n_step is None and algorithm_config(LoopConfig()).n_step is None
    paper = parsed("--n-step", "50")
    assert paper.finetune_n_step == 50 and algorithm_config(paper).n_step == 50
    assert paper.differences(LoopConfig())  # other labels, other policies: another run
    assert parsed("--monte-carlo") == LoopConfig()
    with pytest.raises(ValueError, match="finetune_n_step must be >= 1"):
        parsed("--n-step", "0")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--n-step", "50", "--monte-carlo"])


def test_the_fine_tuning_positive_fraction_is_the_papers_unless_set():
    from recap_lab.self_improvement.cli import build_parser, config_from
    from recap_lab.self_improvement.run import algorithm_config

    def parsed(*argv):
        return config_from(build_parser().parse_args(list(argv)))

    assert LoopConfig().finetune_positive_fraction == 0.4 == algorithm_config(LoopConfig()).finetune_positive_fraction
    reliable = parsed("--positive-fraction", "0.7")
    assert algorithm_config(reliable).finetune_labels(1).positive_fraction == 0.7
    assert algorithm_config(reliable).pretrain_labels().positive_fraction == 0.3  # pre-training keeps the paper's
    assert reliable.differences(LoopConfig())
    for bad in ("0", "1", "1.5"):
        with pytest.raises(ValueError, match="finetune_positive_fraction must be in"):
            parsed("--positive-fraction", bad)


def test_pi_k_start_from_pi_pre_unless_the_loop_is_told_to_train_them_from_scratch():
    from recap_lab.self_improvement.cli import build_parser, config_from
    from recap_lab.self_improvement.run import algorithm_config

    assert LoopConfig().policy_init == "pi_pre" == algorithm_config(LoopConfig()).policy_init
    scratch = config_from(build_parser().parse_args(["--policy-init", "scratch"]))
    alg = algorithm_config(scratch)
    assert alg.policy_init == "scratch" and alg.scratch_policy().steps == 11000 + 5500
    assert scratch.differences(LoopConfig())
    with pytest.raises(ValueError, match="policy_init must be one of"):
        LoopConfig(policy_init="pi_0")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--policy-init", "pi_0"])


def test_the_loop_averages_the_policies_weights_when_told_and_only_theirs():
    from recap_lab.self_improvement.cli import build_parser, config_from
    from recap_lab.self_improvement.run import algorithm_config

    plain = algorithm_config(LoopConfig())
    assert plain.pretrain_policy.ema_decay == plain.finetune_policy.ema_decay == 0.0
    averaged = config_from(build_parser().parse_args(["--policy-ema-decay", "0.999"]))
    alg = algorithm_config(averaged)
    assert (alg.pretrain_policy.ema_decay, alg.finetune_policy.ema_decay, alg.scratch_policy().ema_decay) == (0.999,) * 3
    assert alg.pretrain_value.ema_decay == alg.finetune_value.ema_decay == 0.0
    assert averaged.differences(LoopConfig()) == ["policy_ema_decay 0.999 there, 0.0 here"]
    for bad in ("1", "-0.1"):
        with pytest.raises(ValueError, match="policy_ema_decay must be in"):
            config_from(build_parser().parse_args(["--policy-ema-decay", bad]))


def test_every_policy_is_sampled_with_the_loops_noise_scale(tmp_path):
    from recap_lab.self_improvement.cli import build_parser, config_from
    from recap_bringup.deployment import DeploymentConfig, deployment_graph

    def policy_parameters(**kw):
        cfg = DeploymentConfig(task="espresso", prompt="p", episodes=1, first_seed=1, wall_timeout_s=1.0, **kw)
        policy = write_checkpoint_config(tmp_path / "policy", state_dim=15)
        return next(s for s in deployment_graph(policy, tmp_path, cfg) if s.name == "policy_node").parameters

    assert policy_parameters(noise_scale=0.3)["noise_scale"] == 0.3
    assert "noise_scale" not in policy_parameters()  # the node's own default

    paper = config_from(build_parser().parse_args(["--noise-scale", "1"]))
    assert paper.noise_scale == 1.0 and paper.differences(LoopConfig())
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="noise_scale must be a finite number >= 0"):
            LoopConfig(noise_scale=bad)


def test_the_loop_trains_with_the_measured_sizes_and_recap_iterates_defaults():
    from dataclasses import replace

    from recap_lab.self_improvement.run import algorithm_config
    from recap_trainer.algorithm import AlgorithmConfig
    from recap_trainer.training.run import TrainConfig

    value, policy = TrainConfig(steps=3000, seed=0, threads=2), TrainConfig(steps=11000, seed=0, threads=2)
    assert algorithm_config(PRESETS["default"]) == AlgorithmConfig(
        pretrain_value=value, pretrain_policy=policy, finetune_value=replace(value, steps=1500),
        finetune_policy=replace(policy, steps=5500), n_step=None, pretrain_positive_fraction=0.3,
        finetune_positive_fraction=0.4)
    one_set = algorithm_config(replace(PRESETS["default"], train_threads=1))
    product = AlgorithmConfig()
    assert [c.steps for c in (one_set.pretrain_value, one_set.pretrain_policy, one_set.finetune_value,
                              one_set.finetune_policy)] == \
        [c.steps for c in (product.pretrain_value, product.pretrain_policy, product.finetune_value,
                           product.finetune_policy)]
    assert one_set.n_step == product.n_step is None


def test_the_ledger_keeps_the_machines_that_made_its_steps_and_a_resume_elsewhere_is_named(tmp_path, caplog):
    cfg = PRESETS["quick"]
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    first = Ledger(tmp_path / "ledger.json", machine="x86_64 CPU A, numpy BLAS openblas Zen")
    first.finish("demos", 6)
    first.finish("pretrain", None)
    assert Ledger(tmp_path / "ledger.json", machine="x86_64 CPU A, numpy BLAS openblas Zen").other_machines == []

    with caplog.at_level("WARNING", logger="recap.loop"):
        here = open_run_ledger(tmp_path, cfg)  # this machine, which is not "CPU A"
    assert here.other_machines == ["x86_64 CPU A, numpy BLAS openblas Zen"]
    assert "were made on another machine (x86_64 CPU A, numpy BLAS openblas Zen)" in caplog.text
    here.finish("iter_1/train", None)
    again = Ledger(tmp_path / "ledger.json", machine="x86_64 CPU A, numpy BLAS openblas Zen")
    assert again.machines == ["x86_64 CPU A, numpy BLAS openblas Zen", here.machine]
    assert again.other_machines == [here.machine]


def test_a_ledger_without_machines_resumes_without_a_warning(tmp_path, caplog):
    cfg = PRESETS["quick"]
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    (tmp_path / "ledger.json").write_text(json.dumps({"format": 3, "steps": {"demos": 6}}))
    with caplog.at_level("WARNING", logger="recap.loop"):
        ledger = open_run_ledger(tmp_path, cfg)
    assert ledger.done("demos") and ledger.machines == [] and caplog.text == ""


def test_the_report_names_the_machine_and_the_others_that_made_steps(tmp_path):
    from recap_lab.self_improvement.report import _machines

    ledger = Ledger(tmp_path / "ledger.json", machine="CPU B")
    assert _machines(ledger) == "Machine (this report): CPU B."
    Ledger(tmp_path / "ledger.json", machine="CPU A").finish("demos", 6)
    ledger = Ledger(tmp_path / "ledger.json", machine="CPU B")
    assert _machines(ledger) == "Machine (this report): CPU B. Steps of this run were also made on: CPU A."


def test_a_partial_checkpoint_that_cannot_be_continued_is_named_with_what_to_do(tmp_path, capsys, monkeypatch):
    from recap_lab.self_improvement import cli, run
    from recap_model.checkpoint import CheckpointError

    def stale_checkpoint(*args):
        raise CheckpointError(f"{tmp_path}/train/pretrained/policy: checkpoint is from another model config")

    monkeypatch.setattr(cli, "terminate_as_interrupt", lambda: None)  # the test process keeps its handlers
    monkeypatch.setattr(run, "run_loop", stale_checkpoint)
    assert cli.main(["--size", "quick", "--workdir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "train/pretrained/policy: checkpoint is from another model config" in err
    assert "Remove that checkpoint's directory" in err and "Traceback" not in err
