"""Algorithm 1 of RECAP in simulation, with data collection through the ROS graph.

    demos (scripted expert, mixed quality)  -> V_pre, pi_pre -> V^0, pi^0 (SFT)      [in-process]
    for k = 1..K:
        deploy pi^{k-1}: sim + simulated operator + policy + arbitration + recorder  [ROS graph]
        bags -> dataset (converter)                                                  [in-process]
        V^k, pi^k fine-tuned FROM V_pre, pi_pre on all data so far                  [in-process]
    evaluate every pi^k (and the baselines) on the same seeded episodes             [sim core]

Every step is recorded in a ledger (`<workdir>/ledger.json`); a crashed or interrupted run resumes
after the last finished step (deployments resume per episode; a training continues from its last
checkpoint, saved every fifth of its steps).
Deviation from the paper: evaluation runs the policy in the sim core in-process (the same model
and sim as the deployed graph, without DDS), so hundreds of evaluation episodes fit in the time
budget; data collection, the part RECAP learns from, goes through the ROS graph. Both execute
chunks alike, so RECAP learns from the behaviour that is measured: EXECUTE_STEPS actions of each
chunk, then a new chunk (the deployed policy node runs its plain scheduler with
`inference_every = EXECUTE_STEPS`). The robot's default real-time chunking (a chunk every 10 ticks
continuing the last) commits harder to a chunk's first decision and failed in deployments where
the evaluation did not (docs/BRINGUP.md).
"""
from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

from recap_bringup.deployment import DeploymentConfig, deploy
from recap_lab.evaluation import EXECUTE_STEPS
from recap_lab.graph_evaluation import episode_wall_timeout_s, task_timing
from recap_core.aloha_layout import CAMERA_NAMES
from recap_core.output_files import write_json_atomic
from recap_lab.seeds import DEMONSTRATION_SEED, DEPLOYMENT_SEED, EVALUATION_SEED, VALIDATION_SEED, run_seed_base
from recap_lab.self_improvement.config import LoopConfig
from recap_lab.self_improvement.ledger import open_run_ledger
from recap_lab.self_improvement.report import write_loop_report
from recap_lab.self_improvement.sft_reuse import start_from_sft
from recap_sim.tasks import task_prompt

log = logging.getLogger("recap.loop")


def algorithm_config(cfg: LoopConfig):
    from recap_trainer.algorithm import AlgorithmConfig
    from recap_trainer.training.run import TrainConfig

    # Training runs while the deployment graph is down: it has the cores to itself.
    value = TrainConfig(steps=cfg.value_steps, seed=cfg.seed, threads=cfg.train_threads)
    policy = TrainConfig(steps=cfg.policy_steps, seed=cfg.seed, threads=cfg.train_threads,
                         ema_decay=cfg.policy_ema_decay)
    return AlgorithmConfig.from_pretraining(value, policy, n_step=cfg.finetune_n_step, cameras=cfg.cameras,
                                            model_sizes={"image_shift": cfg.policy_image_shift} if cfg.cameras else None,
                                            finetune_positive_fraction=cfg.finetune_positive_fraction,
                                            value_checks=cfg.value_checks, value_time_input=cfg.value_time_input,
                                            policy_init=cfg.policy_init)


def run_loop(cfg: LoopConfig, workdir: Path, domain_id: int | None = None, sft_from: Path | None = None) -> Path:
    """Run (or resume) the loop; returns the report's path.

    `domain_id`: the ROS domain of every deployment's graph (None: a free one each time a graph
    starts). Not part of `cfg`: where the graph talks changes nothing that is learnt, so a run
    resumes in any domain. `sft_from`: a finished loop run of the same settings up to pi^0 whose
    demonstrations, pre-training and pi^0 this run starts from (sft_reuse.py)."""
    from recap_trainer.algorithm import iterate, pretrain
    from recap_lab.datagen import DatagenConfig, generate_dataset
    from recap_trainer.training.episodes import open_datasets

    workdir.mkdir(parents=True, exist_ok=True)
    ledger = open_run_ledger(workdir, cfg)
    if sft_from is not None:
        taken = start_from_sft(sft_from, workdir, cfg, ledger)
        if taken:
            log.info("starting from the SFT policy of %s: %s taken over", sft_from, ", ".join(taken))
    write_json_atomic(workdir / "config.json", dataclasses.asdict(cfg), indent=1)
    if ledger.finished_steps:
        log.info("resuming %s: %d steps already finished (%s)", workdir, len(ledger.finished_steps),
                 ledger.finished_steps[-1])
    alg = algorithm_config(cfg)
    train_dir = workdir / "train"
    demos = workdir / "data" / "demos"
    data = [demos]

    def step(name: str, work):
        if ledger.done(name):
            return ledger.result(name)
        log.info("== %s", name)
        result = work()
        ledger.finish(name, result)
        return result

    seeds = run_seed_base(cfg.seed)
    step("demos", lambda: len(generate_dataset(demos, DatagenConfig(
        task=cfg.task, episodes=cfg.demos, seed=seeds + DEMONSTRATION_SEED, cameras=cfg.cameras,
        image_size=cfg.image_size), workers=cfg.train_threads)))
    step("pretrain", lambda: str(pretrain(open_datasets(data), train_dir, alg, resume=True)))
    policies = [Path(step("iter_0/train", lambda: str(iterate(open_datasets(data), train_dir, 0, alg, resume=True))))]
    step("iter_0/evaluate", lambda: _evaluate(policies[0], cfg, workdir / "eval" / "iter_0.json", "SFT (pi^0)"))
    deployed_cameras = cfg.cameras or (CAMERA_NAMES if cfg.render_cameras else ())
    task_limit_s, _ = task_timing(cfg.task)
    for k in range(1, cfg.iterations + 1):
        bags = workdir / "bags" / f"iter_{k}"
        deployment = f"iter_{k}/deploy/episode_"
        pending = [i for i in range(cfg.rollouts_per_iteration) if not ledger.done(f"{deployment}{i}")]
        deploy(policies[-1], bags, workdir / "logs" / f"iter_{k}",
               DeploymentConfig(task=cfg.task, prompt=task_prompt(cfg.task), episodes=cfg.rollouts_per_iteration,
                                first_seed=seeds + DEPLOYMENT_SEED + 1000 * k,
                                wall_timeout_s=episode_wall_timeout_s(task_limit_s, max(cfg.real_time_factor, 1e-3)),
                                iteration=k, real_time_factor=cfg.real_time_factor,
                                cameras=deployed_cameras, image_size=cfg.image_size if cfg.cameras else None,
                                execute_steps=EXECUTE_STEPS,
                                takeover_deviation=cfg.takeover_deviation, noise_scale=cfg.noise_scale,
                                domain_id=domain_id),
               pending, lambda i, result: ledger.finish(f"{deployment}{i}", result))
        rollouts = workdir / "data" / f"rollouts_{k}"
        step(f"iter_{k}/convert", lambda: _convert(bags, rollouts, cfg, k))
        data.append(rollouts)
        policies.append(Path(step(f"iter_{k}/train", lambda: str(iterate(open_datasets(data), train_dir, k, alg, resume=True)))))
        step(f"iter_{k}/evaluate", lambda: _evaluate(policies[k], cfg, workdir / "eval" / f"iter_{k}.json",
                                                     f"RECAP iter {k} (pi^{k})"))
    # The SFT reference at the noise that suits it best: after the iterations, so the headline
    # (every pi^k sampled alike) is there first.
    if cfg.reference_noise_scales:
        best = step("iter_0/validate_noise", lambda: _best_noise_scale(policies[0], cfg, workdir / "eval" / "validation"))
        step("iter_0/evaluate_tuned", lambda: _evaluate_tuned(policies[0], cfg, workdir, best["noise_scale"]))
        # Every pi^k at that noise too, so RECAP meets the tuned reference sampled alike.
        for k in range(1, cfg.iterations + 1):
            step(f"iter_{k}/evaluate_at_reference_noise",
                 lambda: _evaluate_at_reference_noise(policies[k], cfg, workdir, k, best["noise_scale"]))
    for method in cfg.baselines:
        out = workdir / "baselines" / method
        step(f"baseline/{method}/train", lambda: _train_baseline(method, data, out, cfg, alg, train_dir))
        step(f"baseline/{method}/evaluate", lambda: _evaluate(out, cfg, workdir / "eval" / f"{method}.json", method))
    # Always rewritten (seconds): a resumed run may have added baselines since.
    log.info("== report")
    return write_loop_report(workdir, cfg, ledger)


def _evaluate(policy_dir: Path, cfg: LoopConfig, out: Path, label: str, noise_scale: float | None = None,
              episodes: int | None = None, first_seed: int = EVALUATION_SEED) -> str:
    """Evaluate at the loop's sampling noise (or `noise_scale`) on the shared evaluation episodes
    (or `episodes` from `first_seed`); the policy renders the cameras it was trained on."""
    from recap_lab.evaluation import EvaluationConfig, evaluate_policy
    from recap_model.policy import load_policy

    noise = cfg.noise_scale if noise_scale is None else noise_scale
    policy = load_policy(policy_dir, seed=cfg.seed, noise_scale=noise)
    check_observation(policy.config.observation, cfg, policy_dir)
    report = evaluate_policy(policy,
                             EvaluationConfig(task=cfg.task, episodes=episodes or cfg.eval_episodes, seed=first_seed,
                                              execute_steps=EXECUTE_STEPS), label=label)
    log.info("%s: success %s, throughput %s successes/h", label, report.success_rate.format(),
             report.throughput_per_hour.format(digits=0))
    return str(report.save(out))


def check_observation(observation, cfg: LoopConfig, policy_dir: Path) -> None:
    """RuntimeError when a policy of the run reads other inputs than the run observes: every figure
    of a camera run must come from cameras and joints alone (a baseline once trained on the
    simulator's object state of camera datasets, which carry it)."""
    if (tuple(observation.cameras), observation.state_dim > 0) != (tuple(cfg.cameras), not cfg.cameras):
        observed = (f"cameras {list(cfg.cameras)} and no object state" if cfg.cameras
                    else "the object state and no cameras")
        raise RuntimeError(f"{policy_dir}: the policy reads cameras {list(observation.cameras)} and "
                           f"{observation.state_dim} object-state features; this run ({cfg.observation}) "
                           f"observes {observed}")


def _evaluate_tuned(policy_dir: Path, cfg: LoopConfig, workdir: Path, noise_scale: float) -> str:
    """The SFT reference at its best noise on the evaluation episodes."""
    return _evaluate_at_noise(policy_dir, cfg, workdir, 0, workdir / "eval" / "reference" / "tuned.json",
                              f"SFT (pi^0) at noise {noise_scale:g}", noise_scale)


def _evaluate_at_reference_noise(policy_dir: Path, cfg: LoopConfig, workdir: Path, k: int, noise_scale: float) -> str:
    """pi^k at the SFT reference's best noise on the evaluation episodes."""
    return _evaluate_at_noise(policy_dir, cfg, workdir, k, workdir / "eval" / "reference" / f"iter_{k}.json",
                              f"RECAP iter {k} (pi^{k}) at noise {noise_scale:g}", noise_scale)


def _evaluate_at_noise(policy_dir: Path, cfg: LoopConfig, workdir: Path, k: int, out: Path, label: str,
                       noise_scale: float) -> str:
    """pi^k at `noise_scale` into `out`; where that is the loop's own noise, pi^k's evaluation is it
    already (same policy, seed and episodes) and is copied."""
    if noise_scale == cfg.noise_scale:
        log.info("%s: the loop's own noise, a copy of eval/iter_%d.json", label, k)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(workdir / "eval" / f"iter_{k}.json", out)
        return str(out)
    return _evaluate(policy_dir, cfg, out, label, noise_scale=noise_scale)


def _best_noise_scale(policy_dir: Path, cfg: LoopConfig, out_dir: Path) -> dict:
    """The sampling noise at which the SFT policy has the highest throughput on the validation
    episodes (never the evaluation's), among the loop's own and `reference_noise_scales`."""
    from recap_lab.report import load_report

    candidates = sorted({cfg.noise_scale, *cfg.reference_noise_scales})
    throughput = {}
    for scale in candidates:
        out = out_dir / f"iter_0_noise_{scale:g}.json"
        saved = _evaluate(policy_dir, cfg, out, f"SFT (pi^0) at noise {scale:g}, validation", noise_scale=scale,
                          episodes=cfg.validation_episodes, first_seed=VALIDATION_SEED)
        throughput[scale] = load_report(Path(saved)).throughput_per_hour.value
    best = max(candidates, key=lambda s: (throughput[s], s == cfg.noise_scale))
    log.info("SFT reference: throughput on %d validation episodes by noise scale %s -> %g",
             cfg.validation_episodes, {f"{s:g}": round(v) for s, v in throughput.items()}, best)
    return {"noise_scale": best, "validation_throughput": {f"{s:g}": v for s, v in throughput.items()}}


def _convert(bags: Path, out: Path, cfg: LoopConfig, iteration: int) -> int:
    """The iteration's episode bags -> a rollout dataset with the cameras the policies see (none for
    "sim-state": camera streams recorded for inspection are not converted)."""
    from recap_trainer.bags.build import build_dataset, find_bags
    from recap_trainer.bags.config import ConverterConfig

    converter = ConverterConfig(cameras=cfg.cameras, image_size=cfg.image_size if cfg.cameras else None)
    report = build_dataset(find_bags([bags]), out, converter, task=cfg.task,
                           source_kind="rollout", iteration=iteration)
    for bag, error in report.failed.items():
        log.warning("bag %s not converted: %s", bag, error)
    if not report.converted and not report.skipped:
        raise ValueError(f"none of the bags in {bags} converted; see the warnings above")
    return len(report.converted)


def _train_baseline(method: str, data: list[Path], out: Path, cfg: LoopConfig, alg, train_dir: Path) -> str:
    """Same data, the same model (cameras and sizes) and the same total policy steps as RECAP's pi^K
    (pre-training + fine-tuning); AWR weights by the advantages of RECAP's last value function V^K."""
    from recap_trainer.labels import Labels
    from recap_trainer.training.episodes import open_datasets
    from recap_trainer.training.train_policy import PolicyTrainConfig, train_policy

    labels = Labels.load(train_dir / f"iter_{cfg.iterations}" / "labels") if method == "awr" else None
    train_policy(open_datasets(data), out, alg.scratch_policy(), PolicyTrainConfig(method=method), labels,
                 resume=True, **alg.policy_model())
    return str(out)

