"""What the loop's policies see (sim state or cameras), the run's seed, and the SFT reference at
its best noise: configuration, scenes, deployment graph and the summary over seeds."""
import dataclasses
import json
from types import SimpleNamespace

import pytest

from bringup.checkpoint_config import write_checkpoint_config
from recap_lab.seeds import DEMONSTRATION_SEED, DEPLOYMENT_SEED, EVALUATION_SEED, VALIDATION_SEED, run_seed_base
from recap_lab.self_improvement.cli import build_parser, config_from
from recap_lab.self_improvement.config import VISION_CAMERAS, VISION_IMAGE_SIZE, LoopConfig, preset
from recap_lab.self_improvement.run import check_observation
from recap_model.models.config import ObservationConfig


def test_the_camera_loop_sees_cameras_and_no_simulator_state():
    cfg = config_from(build_parser().parse_args(["--observation", "cameras"]))
    assert (cfg.observation, cfg.cameras, cfg.image_size) == ("cameras", VISION_CAMERAS, VISION_IMAGE_SIZE)
    assert cfg.reference_noise_scales and cfg.differences(LoopConfig())
    assert preset("default") == LoopConfig() and not LoopConfig().cameras  # make run: sim state
    one = config_from(build_parser().parse_args(["--observation", "cameras", "--cameras", "cam_high",
                                                 "--image-size", "64", "80"]))
    assert (one.cameras, one.image_size) == (("cam_high",), (64, 80))
    with pytest.raises(ValueError, match="need --observation cameras"):
        config_from(build_parser().parse_args(["--cameras", "cam_high"]))
    with pytest.raises(ValueError, match="disagree"):
        LoopConfig(observation="cameras")
    with pytest.raises(ValueError, match="distinct names"):
        LoopConfig(observation="cameras", cameras=("cam_high", "cam_high"))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--observation", "cameras", "--cameras", "cam_top"])


def test_the_policies_image_shift_is_a_camera_runs_setting_and_reaches_the_policies_only():
    from recap_lab.self_improvement.run import algorithm_config

    parse = lambda *args: config_from(build_parser().parse_args(["--observation", "cameras", *args]))  # noqa: E731
    default = parse()
    assert default.policy_image_shift == ObservationConfig().image_shift == 4
    assert algorithm_config(default).model_sizes == {"image_shift": 4}
    unshifted = parse("--policy-image-shift", "0")
    assert algorithm_config(unshifted).model_sizes == {"image_shift": 0}
    assert algorithm_config(unshifted).policy_model()["model_sizes"] == {"image_shift": 0}  # the baselines too
    assert unshifted.differences(default) == ["policy_image_shift 0 there, 4 here"]
    assert algorithm_config(LoopConfig()).model_sizes is None  # a state-only run has no images
    with pytest.raises(ValueError, match="need --observation cameras"):
        config_from(build_parser().parse_args(["--policy-image-shift", "0"]))
    with pytest.raises(ValueError, match=r"policy_image_shift must be in \[0, 48\) pixels"):
        parse("--policy-image-shift", "48")


@pytest.mark.parametrize("cameras, state_dim, in_state_run, in_camera_run", [
    ((), 15, True, False), (VISION_CAMERAS, 0, False, True), (VISION_CAMERAS, 15, False, False),
    (VISION_CAMERAS[:1], 0, False, False), ((), 0, False, False)])
def test_a_policy_that_reads_other_inputs_than_the_run_observes_is_refused(cameras, state_dim, in_state_run,
                                                                            in_camera_run, tmp_path):
    observation = SimpleNamespace(cameras=cameras, state_dim=state_dim)
    for cfg, ok in ((LoopConfig(), in_state_run), (preset("default", "cameras"), in_camera_run)):
        if ok:
            check_observation(observation, cfg, tmp_path)
        else:
            with pytest.raises(RuntimeError, match=f"{tmp_path}: the policy reads cameras"):
                check_observation(observation, cfg, tmp_path)


def test_the_refusal_says_what_the_policy_reads_and_what_the_run_observes(tmp_path):
    with pytest.raises(RuntimeError, match=r"reads cameras \[\] and 15 object-state features; this run "
                                           r"\(cameras\) observes cameras \['cam_high'"):
        check_observation(SimpleNamespace(cameras=(), state_dim=15), preset("default", "cameras"), tmp_path)


def test_runs_of_different_seeds_never_share_a_scene_and_share_the_evaluation():
    assert run_seed_base(0) == 0  # seed 0: the scenes single runs always used
    blocks = []
    for seed in (0, 1, 2):
        base = run_seed_base(seed)
        demos = range(base + DEMONSTRATION_SEED, base + DEMONSTRATION_SEED + 600)
        deployments = range(base + DEPLOYMENT_SEED, base + DEPLOYMENT_SEED + 1000 * 3 + 25)
        blocks += [set(demos), set(deployments)]
    shared = set(range(EVALUATION_SEED, EVALUATION_SEED + 200)) | set(range(VALIDATION_SEED, VALIDATION_SEED + 50))
    for i, a in enumerate(blocks):
        assert not a & shared
        assert all(not a & b for b in blocks[i + 1:])
    assert config_from(build_parser().parse_args(["--seed", "2"])).seed == 2
    assert LoopConfig(seed=1).differences(LoopConfig())
    with pytest.raises(ValueError, match="0..99"):
        LoopConfig(seed=100)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--seed", "1", "--seeds", "1", "2"])


def test_a_camera_policy_is_deployed_with_its_cameras_rendered_at_its_training_size(tmp_path):
    from recap_bringup.deployment import DeploymentConfig, deployment_graph

    policy = write_checkpoint_config(tmp_path / "policy", cameras=("cam_high", "cam_left_wrist"), image_size=(48, 64))
    cfg = DeploymentConfig(task="espresso", prompt="p", episodes=1, first_seed=1, wall_timeout_s=1.0)
    specs = {s.name: s for s in deployment_graph(policy, tmp_path, cfg)}
    sim = specs["sim_node"].parameters
    assert (sim["cameras"], sim["image_height"], sim["image_width"]) == (["cam_high", "cam_left_wrist"], 48, 64)
    assert {"/cam_high/image_raw", "/cam_left_wrist/image_raw"} <= {t.name for t in specs["policy_node"].required_topics}
    with pytest.raises(ValueError, match="trained on 64x48 images"):
        deployment_graph(policy, tmp_path, DeploymentConfig(task="espresso", prompt="p", episodes=1, first_seed=1,
                                                            wall_timeout_s=1.0, image_size=(96, 128)))
    state = write_checkpoint_config(tmp_path / "state", state_dim=15)
    assert {s.name: s for s in deployment_graph(state, tmp_path, cfg)}["sim_node"].parameters["cameras"] == ["none"]
    recorded = DeploymentConfig(task="espresso", prompt="p", episodes=1, first_seed=1, wall_timeout_s=1.0,
                                cameras=("cam_high",))
    assert {s.name: s for s in deployment_graph(state, tmp_path, recorded)}["sim_node"].parameters["cameras"] == ["cam_high"]
    with pytest.raises(FileNotFoundError, match="no policy checkpoint"):
        deployment_graph(tmp_path / "missing", tmp_path, cfg)


def test_a_policy_reading_simulator_state_is_refused_on_a_real_robot_before_the_graph_starts(tmp_path):
    from recap_bringup.graph import LaunchArgs, describe_graph

    state = write_checkpoint_config(tmp_path / "state", state_dim=15, robot="aloha")
    with pytest.raises(ValueError, match="reads the simulator's object state .15 features"):
        describe_graph(LaunchArgs(sim=False, robot="aloha", checkpoint=str(state), record=False))
    sim_state = write_checkpoint_config(tmp_path / "sim_state", state_dim=15)
    assert describe_graph(LaunchArgs(sim=True, checkpoint=str(sim_state)))  # the sim publishes it
    cameras = write_checkpoint_config(tmp_path / "cameras", cameras=("cam_high",), robot="aloha")
    assert [s.name for s in describe_graph(LaunchArgs(sim=False, robot="aloha", checkpoint=str(cameras),
                                                      record=False))] == ["arbitration_node", "policy_node"]
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{")
    with pytest.raises(ValueError, match="not a policy checkpoint config"):
        describe_graph(LaunchArgs(checkpoint=str(tmp_path / "broken")))


def _evaluation(path, label, successes, episodes=10, noise=0.2):
    from recap_lab.evaluation import EpisodeResult, EvaluationConfig, EvaluationReport

    results = tuple(EpisodeResult(seed=i, outcome="success" if i < successes else "failure",
                                  failure_reason="" if i < successes else "timeout after 15.0 s", steps=250,
                                  sim_time_s=5.0 if i < successes else 15.0, final_stage="served")
                    for i in range(episodes))
    EvaluationReport(label=label, config=EvaluationConfig(task="espresso", episodes=episodes), results=results,
                     wall_time_s=1.0, noise_scale=noise).save(path)


def test_the_summary_over_seeds_lists_every_run_and_the_median(tmp_path):
    from recap_lab.self_improvement.seed_summary import write_seed_summary

    runs = []
    for seed, (sft, final, tuned) in enumerate([(5, 9, 6), (4, 4, 4), (2, 8, None)]):
        run = tmp_path / f"seed_{seed}"
        (run / "eval").mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"iterations": 2, "seed": seed}))
        _evaluation(run / "eval" / "iter_0.json", "SFT (pi^0)", sft)
        _evaluation(run / "eval" / "iter_2.json", "RECAP iter 2 (pi^2)", final)
        if tuned is not None:
            _evaluation(run / "eval" / "reference" / "tuned.json", "SFT at 0.5", tuned, noise=0.5)
        if seed == 0:  # pi^2 at the tuned reference's noise too
            _evaluation(run / "eval" / "reference" / "iter_2.json", "pi^2 at 0.5", 7, noise=0.5)
        runs.append(run)
    text = write_seed_summary(tmp_path, runs).read_text()
    summary = json.loads((tmp_path / "seeds.json").read_text())
    ratios = [r["ratios"]["failure rate vs SFT"] for r in summary["runs"]]
    assert ratios == pytest.approx([0.1 / 0.5, 1.0, 0.2 / 0.8])  # every run, not the best
    assert summary["distribution"]["failure rate vs SFT"]["median"] == pytest.approx(0.25)
    assert summary["distribution"]["throughput vs tuned SFT"]["runs"] == 2
    alike = summary["runs"][0]["ratios"]["failure rate vs tuned SFT, sampled alike"]
    assert alike == pytest.approx(0.3 / 0.4)
    assert "failure rate vs tuned SFT, sampled alike" not in summary["runs"][1]["ratios"]
    assert text.count("\n| 0 |") + text.count("\n| 1 |") + text.count("\n| 2 |") == 3


def _finished_run(run, seed, sft=5, final=8, **config):
    (run / "eval").mkdir(parents=True)
    settings = {"observation": "cameras", "cameras": VISION_CAMERAS, "train_threads": 2, **config}
    (run / "config.json").write_text(json.dumps(dataclasses.asdict(LoopConfig(seed=seed, **settings))))
    _evaluation(run / "eval" / "iter_0.json", "SFT (pi^0)", sft)
    _evaluation(run / "eval" / "iter_2.json", "RECAP iter 2 (pi^2)", final)
    return run


def test_seeds_summarises_runs_that_finished_apart_and_refuses_what_does_not_belong_together(tmp_path, capsys):
    from recap_lab.cli import main as lab_main

    a = _finished_run(tmp_path / "machine_a" / "seed_0", 0, sft=5, final=8)
    b = _finished_run(tmp_path / "machine_b" / "seed_1", 1, sft=4, final=4, train_threads=16)  # threads may differ
    out = tmp_path / "summary"
    assert lab_main(["seeds", str(a), str(b), "--out", str(out)]) == 0
    summary = json.loads((out / "seeds.json").read_text())
    assert [r["seed"] for r in summary["runs"]] == [0, 1]
    ratios = [r["ratios"]["throughput vs SFT"] for r in summary["runs"]]
    assert ratios[0] > 1.0 and ratios[1] == pytest.approx(1.0)  # seed 1: pi^2 as good as its pi^0
    assert summary["distribution"]["throughput vs SFT"]["median"] == pytest.approx(sum(ratios) / 2)
    assert "(../machine_a/seed_0/REPORT.md)" in (out / "SEEDS.md").read_text()
    before = (out / "SEEDS.md").read_text()

    other = _finished_run(tmp_path / "other" / "seed_2", 2, observation="sim-state", cameras=())
    unfinished = _finished_run(tmp_path / "unfinished" / "seed_3", 3)
    (unfinished / "eval" / "iter_2.json").unlink()
    for runs, message in (([a, other], "other settings than .*observation 'cameras' there, 'sim-state' here"),
                          ([a, unfinished], "has not finished .eval/iter_2.json missing"),
                          ([a, a], "the same seed"),
                          ([a, tmp_path / "nowhere"], "not a loop run directory")):
        with pytest.raises(ValueError, match=message):
            lab_main(["seeds", *map(str, runs), "--out", str(tmp_path / "refused")])
        assert not (tmp_path / "refused").exists()  # refused before anything is written
    with pytest.raises(ValueError, match="exists; pass --force"):
        lab_main(["seeds", str(b), "--out", str(out)])
    assert (out / "SEEDS.md").read_text() == before
    assert lab_main(["seeds", str(b), "--out", str(out), "--force"]) == 0


def test_the_loop_passes_its_value_check_mode_to_the_labels():
    from recap_lab.self_improvement.run import algorithm_config

    strict = config_from(build_parser().parse_args(["--value-checks", "refuse"]))
    assert algorithm_config(strict).value_checks == "refuse"
    assert algorithm_config(LoopConfig()).value_checks == "warn"
    assert not strict.differences(LoopConfig())  # a run may resume with checks switched
    timed = config_from(build_parser().parse_args(["--value-time-input"]))
    assert algorithm_config(timed).value_time_input and not algorithm_config(LoopConfig()).value_time_input
    assert timed.differences(LoopConfig())  # another V: another run
    cameras = config_from(build_parser().parse_args(["--observation", "cameras"]))
    assert algorithm_config(cameras).cameras == VISION_CAMERAS


def test_the_tuned_reference_at_the_loops_own_noise_is_pi0s_evaluation(tmp_path):
    from recap_lab.self_improvement.config import LoopConfig
    from recap_lab.self_improvement.run import _evaluate_tuned
    from recap_model.checkpoint import CheckpointError

    cfg = LoopConfig()
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "iter_0.json").write_text('{"label": "SFT (pi^0)"}')
    # No policy at all: an evaluation would fail; the best noise being the loop's own needs none.
    out = _evaluate_tuned(tmp_path / "no_policy", cfg, tmp_path, cfg.noise_scale)
    assert (tmp_path / "eval" / "reference" / "tuned.json").read_text() == '{"label": "SFT (pi^0)"}'
    assert out.endswith("tuned.json")
    with pytest.raises(CheckpointError, match="no_policy"):  # another noise: pi^0 is evaluated again
        _evaluate_tuned(tmp_path / "no_policy", cfg, tmp_path, cfg.noise_scale + 0.3)


def test_each_iteration_at_the_loops_own_noise_is_its_own_evaluation(tmp_path):
    from recap_lab.self_improvement.config import LoopConfig
    from recap_lab.self_improvement.run import _evaluate_at_reference_noise
    from recap_model.checkpoint import CheckpointError

    cfg = LoopConfig()
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "iter_2.json").write_text('{"label": "RECAP iter 2 (pi^2)"}')
    _evaluate_at_reference_noise(tmp_path / "no_policy", cfg, tmp_path, 2, cfg.noise_scale)
    assert (tmp_path / "eval" / "reference" / "iter_2.json").read_text() == '{"label": "RECAP iter 2 (pi^2)"}'
    with pytest.raises(CheckpointError, match="no_policy"):
        _evaluate_at_reference_noise(tmp_path / "no_policy", cfg, tmp_path, 2, cfg.noise_scale + 0.3)
