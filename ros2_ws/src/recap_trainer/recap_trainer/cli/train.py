"""`recap train-value | label | train-policy | iterate`: the RECAP learning core on the command line.

Multi-process training: `torchrun --nproc_per_node 2 -m recap_trainer.cli train-policy ...`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recap_core.output_files import check_output_dir
from recap_model.action_frame import ACTION_FRAMES, relative_dims_for
from recap_model.models.config import ObservationConfig
from recap_trainer.algorithm import POLICY_INITS, AlgorithmConfig
from recap_trainer.cli.options import (DefaultsHelpFormatter, UsageError, check_checkpoint_out, options_named,
                                        task_values)
from recap_trainer.training.run import TrainConfig
from recap_trainer.value_checks import CHECK_MODES
from recap_trainer.value_holdout import DEFAULT_HOLDOUT_FRACTION


METHOD_HELP = "recap (advantage-conditioned), or a baseline on the same data and budget: bc, filtered_bc (successes only), awr"


EMA_DECAY_HELP = ("keep an exponential moving average of the weights with this decay per step and save it as the "
                  "checkpoint (openpi trains pi0 with 0.99); 0 = the last weights")


def register(subparsers: argparse._SubParsersAction) -> None:
    fmt = DefaultsHelpFormatter

    p = subparsers.add_parser(
        "train-value", formatter_class=fmt,
        help="train the distributional value function V (201 bins on [-1, 0], Eq. 1)",
        description="Train V(o_t, l) with cross-entropy to the normalised empirical return (Eq. 5 rewards: "
        "-1 per step, 0 at success, -C_fail at failure; returns split at the first human takeover; "
        "normalised per task by L + C_fail). With --init-from, fine-tune a pre-trained V (Algorithm 1).")
    _data_args(p)
    _train_args(p, steps=2000)
    p.add_argument("--init-from", type=Path, help="value checkpoint to fine-tune from (V_pre)")
    p.add_argument("--max-episode-length", action="append", default=[], metavar="TASK=STEPS",
                   help="per-task L (default: the episodes' recorded time limit, else the longest episode)")
    p.add_argument("--c-fail", action="append", default=[], metavar="TASK=STEPS",
                   help="per-task failure cost C_fail in steps (default: L)")
    p.add_argument("--takeover-split", choices=("first", "every", "none"), default="first",
                   help="where returns are cut at human takeovers")
    _holdout_arg(p)
    _time_input_arg(p)
    p.set_defaults(func=_train_value)

    p = subparsers.add_parser(
        "label", formatter_class=fmt, help="advantages A_t, per-task thresholds eps_l and indicators I_t",
        description="Label every step with the n-step advantage under a trained V, set eps_l per task as a "
        "percentile (positive fraction), force human-intervention steps positive (and demos, in the sft stage). "
        "First checks V on the episodes its checkpoint held out and each source's positive fraction "
        "(--value-checks). Writes labels.safetensors + labels.json (with the checks' report).")
    _data_args(p, cameras=False)
    p.add_argument("--value", type=Path, required=True, help="value checkpoint V^k")
    p.add_argument("--out", type=Path, required=True, help="labels directory to write (new or empty)")
    p.add_argument("--force", action="store_true", help="replace the labels in a non-empty --out")
    p.add_argument("--stage", choices=("pretrain", "sft", "finetune"), default="finetune",
                   help="pretrain: Monte Carlo A, 30%% of demo steps positive; sft: demos forced positive; "
                   "finetune: N = 50, 40%% of rollout steps positive")
    p.add_argument("--n-step", type=int, help="N of the n-step advantage (default: the stage's)")
    p.add_argument("--monte-carlo", action="store_true", help="N = T: A_t = R_t - V(o_t)")
    p.add_argument("--positive-fraction", type=float, help="fraction of steps above eps_l (default: the stage's)")
    p.add_argument("--task-positive-fraction", action="append", default=[], metavar="TASK=FRACTION",
                   help="per-task override, e.g. 0.1 for a slow but reliable task")
    _value_checks_arg(p)
    p.set_defaults(func=_label)

    p = subparsers.add_parser(
        "train-policy", formatter_class=fmt,
        help="train the advantage-conditioned flow-matching policy (or a baseline)",
        description="RECAP: flow-matching loss on H x 14 action chunks conditioned on I_t, dropped 30% of the "
        "time. Baselines on the same data/model/budget: bc, filtered_bc (successes only), awr (weights "
        "exp(A/tau) clipped). With --init-from, fine-tune a pre-trained policy (Algorithm 1).")
    _data_args(p)
    _train_args(p, steps=3000)
    p.add_argument("--method", choices=("recap", "bc", "filtered_bc", "awr"), default="recap",
                   help=METHOD_HELP)
    p.add_argument("--labels", type=Path, help="labels directory from `recap label` (recap, awr)")
    p.add_argument("--init-from", type=Path, help="policy checkpoint to fine-tune from (pi_pre)")
    p.add_argument("--horizon", type=int, default=50, help="H, actions per chunk")
    p.add_argument("--denoising-steps", type=int, default=10, help="flow-matching Euler steps at inference")
    p.add_argument("--action-frame", choices=ACTION_FRAMES, default="absolute",
                   help="absolute: every dimension as a joint target; relative: arm joints predicted as offsets "
                   "from the current joint positions, grippers absolute (openpi's ALOHA setup; it did much "
                   "worse here, docs/TRAINER.md)")
    p.add_argument("--indicator-dropout", type=float, default=0.3, help="P(indicator dropped) in RECAP training")
    p.add_argument("--awr-temperature", type=float, default=1.0, help="AWR tau in units of std(A)")
    p.add_argument("--awr-max-weight", type=float, default=20.0, help="AWR weight clip")
    p.set_defaults(func=_train_policy)

    p = subparsers.add_parser(
        "iterate", formatter_class=fmt, help="Algorithm 1: pre-train (if needed), then fine-tune V^k and pi^k",
        description="Runs the RECAP loop's training side in WORK_DIR: if WORK_DIR/pretrained is missing, trains "
        "V_pre and pi_pre on --demos; then fine-tunes V^k and pi^k FROM THE PRE-TRAINED checkpoints on "
        "--demos plus --data (all rollouts so far) into WORK_DIR/iter_<k>. Collect rollouts with pi^(k-1) "
        "(`recap-lab generate`/the robot) between calls. The defaults are the product's, what the lab's loop "
        "(`make run`) trains with: V_pre and pi_pre for --value-steps and --policy-steps, each fine-tune for half "
        "as many, and Monte Carlo fine-tuning advantages A_t = R_t - V(o_t) (--n-step 50: the paper's).")
    p.add_argument("--work-dir", type=Path, required=True,
                   help="the iteration's directory: labels, V^k and pi^k go under it (resumed if present)")
    p.add_argument("--demos", type=Path, nargs="+", required=True, help="demonstration dataset directories")
    p.add_argument("--data", type=Path, nargs="*", default=[], help="rollout dataset directories collected so far")
    p.add_argument("--iteration", type=int, required=True, help="k (0 = SFT on the demos)")
    p.add_argument("--method", choices=("recap", "bc", "filtered_bc", "awr"), default="recap",
                   help=METHOD_HELP)
    p.add_argument("--cameras", nargs="*", default=[], help="camera names for an image policy (default: state-only)")
    p.add_argument("--value-steps", type=int, default=AlgorithmConfig.pretrain_value.steps,
                   help="gradient steps of V_pre (each V^k: half)")
    p.add_argument("--policy-steps", type=int, default=AlgorithmConfig.pretrain_policy.steps,
                   help="gradient steps of pi_pre (each pi^k: half)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size of every training step")
    p.add_argument("--seed", type=int, default=0, help="training seed (initialisation, batches, noise)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default; 1 on a shared machine)")
    p.add_argument("--ema-decay", type=float, default=0.0, help=EMA_DECAY_HELP)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the models train")
    p.add_argument("--amp", action="store_true",
                   help="bfloat16 autocast for the forward and backward passes (weights stay float32): for image "
                        "models on CUDA; it runs on the CPU too, without a speed-up there")
    p.add_argument("--positive-fraction", type=float, default=AlgorithmConfig.finetune_positive_fraction,
                   help="fine-tuning positive fraction")
    p.add_argument("--n-step", type=int, default=AlgorithmConfig.n_step,
                   help="N of the fine-tuning advantages (the paper: 50; default: Monte Carlo, N = T)")
    p.add_argument("--policy-init", choices=POLICY_INITS, default=AlgorithmConfig.policy_init,
                   help="where pi^k (k >= 1) starts: pi_pre (the paper: fine-tuned from pi_pre for half of "
                        "--policy-steps) or scratch (random weights trained for 1.5x --policy-steps)")
    p.add_argument("--force", action="store_true",
                   help="replace a non-empty WORK_DIR/iter_<k> (and an unfinished WORK_DIR/pretrained)")
    _holdout_arg(p)
    _time_input_arg(p)
    _value_checks_arg(p)
    p.set_defaults(func=_iterate)


IMAGE_SHIFT_HELP = ("random-shift augmentation of every camera image in training: shifted by up to +-N pixels, "
                    "edge-padded (DrQ); 0 = off. Default: the model's, %d (docs/TRAINER.md, \"Image encoder\")"
                    % ObservationConfig.image_shift)


def _data_args(p: argparse.ArgumentParser, cameras: bool = True) -> None:
    p.add_argument("--data", type=Path, nargs="+", required=True, help="dataset directories (all are used)")
    if cameras:
        p.add_argument("--cameras", nargs="*", default=[], help="camera names for an image model (default: state-only)")
        p.add_argument("--image-shift", type=int, metavar="N", help=IMAGE_SHIFT_HELP)


def _image_model(a: argparse.Namespace) -> dict:
    """The model sizes --image-shift sets; UsageError where it cannot apply."""
    if a.image_shift is None:
        return {}
    if not a.cameras:
        raise UsageError("--image-shift needs --cameras: a state-only model has no images to shift")
    if a.init_from:
        raise UsageError("--image-shift does not apply with --init-from: the fine-tuned model keeps the image "
                         "shift of the checkpoint it starts from")
    return {"image_shift": a.image_shift}


def _holdout_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--holdout-fraction", type=float, default=DEFAULT_HOLDOUT_FRACTION,
                   help="share of episodes the value function does not train on, chosen by a hash of episode id "
                   "and --seed (at least one success and one failure; none below 10 episodes); V is scored on "
                   "them and value_checks.json + value_checks.png are written next to the checkpoint. 0: train on "
                   "every episode (the checks then score training episodes)")


def _time_input_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--time-input", action=argparse.BooleanOptionalAction, default=None,
                   help="the value function also sees the time since the episode started, as a fraction of the "
                   "task's L: a timed-out episode's return depends on the time left, which no observation shows "
                   "(docs/TRAINER.md, \"The value function sees the time\"). Default: no, the paper's V(o_t, l). "
                   "A fine-tuned V keeps its V_pre's choice")


def _value_checks_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--value-checks", choices=CHECK_MODES, default="warn",
                   help="check V on the episodes its checkpoint held out (AUC success vs failure mid-episode, "
                   "calibration, failures seen by their last step) and each data source's positive fraction "
                   "(0%% or 100%%: degenerate) before writing labels: warn logs the problems, refuse writes no "
                   "labels when the verdict is not ok, off skips the checks (docs/TRAINER.md)")


def _train_args(p: argparse.ArgumentParser, steps: int) -> None:
    p.add_argument("--out", type=Path, required=True,
                   help="checkpoint directory to write (new or empty, unless --resume or --force)")
    p.add_argument("--steps", type=int, default=steps, help="gradient steps")
    p.add_argument("--batch-size", type=int, default=64, help="global batch (split over torchrun processes)")
    p.add_argument("--lr", type=float, default=3e-4, help="AdamW peak learning rate (linear warm-up, then cosine decay to 5 %%)")
    p.add_argument("--seed", type=int, default=0, help="training seed (initialisation, batches, noise)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads per process (0 = default)")
    p.add_argument("--ema-decay", type=float, default=0.0, help=EMA_DECAY_HELP)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: each torchrun process uses GPU LOCAL_RANK with NCCL")
    p.add_argument("--amp", action="store_true",
                   help="bfloat16 autocast for the forward and backward passes (weights stay float32): for image "
                        "models on CUDA; it runs on the CPU too, without a speed-up there")
    p.add_argument("--resume", action="store_true",
                   help="continue the checkpoint in --out from its saved optimizer state (it must hold one)")
    p.add_argument("--force", action="store_true", help="replace a checkpoint (or other files) in --out")


def _train_config(a: argparse.Namespace) -> TrainConfig:
    with options_named(steps="--steps", batch_size="--batch-size", lr="--lr", seed="--seed", threads="--threads",
                       ema_decay="--ema-decay"):
        return TrainConfig(steps=a.steps, batch_size=a.batch_size, lr=a.lr, seed=a.seed, threads=a.threads,
                           device=a.device, amp=a.amp, ema_decay=a.ema_decay)


def _train_value(a: argparse.Namespace) -> int:
    from recap_trainer.rewards import RewardConfig
    from recap_trainer.training.episodes import open_datasets
    from recap_trainer.training.run import is_main_process
    from recap_trainer.training.train_value import VALUE_CHECKS_JSON, VALUE_CHECKS_PNG, load_value_checks, train_value
    from recap_trainer.value_holdout import HoldoutConfig

    train = _train_config(a)
    lengths = task_values("--max-episode-length", a.max_episode_length, int)
    c_fail = task_values("--c-fail", a.c_fail, float)
    if a.init_from and (lengths or c_fail):
        raise UsageError("--max-episode-length and --c-fail do not apply with --init-from: the fine-tuned V "
                         "keeps the reward config of the checkpoint it starts from")
    if a.init_from and a.time_input is not None:
        raise UsageError("--time-input / --no-time-input do not apply with --init-from: the fine-tuned V keeps "
                         "the model of the checkpoint it starts from")
    with options_named(fraction="--holdout-fraction"):
        holdout = HoldoutConfig(fraction=a.holdout_fraction, seed=train.seed)
    model_sizes = _image_model(a)
    check_checkpoint_out(a.out, a.resume, a.force)
    catalog = open_datasets(a.data)
    with options_named(max_episode_length="--max-episode-length", c_fail="--c-fail"):
        rewards = None if a.init_from else RewardConfig.from_episodes(catalog, lengths, c_fail, a.takeover_split)
    with options_named(image_shift="--image-shift"):
        out = train_value(catalog, a.out, train, rewards, init_from=a.init_from, resume=a.resume,
                          model_sizes=model_sizes, cameras=tuple(a.cameras), holdout=holdout,
                          time_input=bool(a.time_input))
    if is_main_process() and (out / VALUE_CHECKS_JSON).is_file():  # the main process of torchrun writes them
        print(load_value_checks(out).summary())
        print(f"value checks: {out / VALUE_CHECKS_JSON}, {out / VALUE_CHECKS_PNG}")
    _say(f"value checkpoint: {out}")
    return 0


def _label(a: argparse.Namespace) -> int:
    from recap_trainer.algorithm import label_with_value
    from recap_trainer.label_breakdown import format_breakdown, format_phases, label_breakdown, phase_breakdown
    from recap_trainer.labels import LabelConfig
    from recap_trainer.training.episodes import open_datasets

    n_step = None if a.monte_carlo else (a.n_step if a.n_step is not None else -1)
    with options_named(n_step="--n-step", positive_fraction="--positive-fraction",
                       task_positive_fraction="--task-positive-fraction"):
        config = LabelConfig(stage=a.stage, n_step=n_step, positive_fraction=a.positive_fraction,
                             task_positive_fraction=task_values("--task-positive-fraction", a.task_positive_fraction,
                                                                float))
        check_output_dir(a.out, overwrite=a.force, what="--out")
        catalog = open_datasets(a.data)
        labels = label_with_value(catalog, a.value, config, a.value_checks)
    labels.save(a.out)
    groups, phases = label_breakdown(labels, catalog.summaries), phase_breakdown(labels, catalog.summaries)
    checks = labels.info.get("value_checks")
    print(json.dumps({"labels": str(a.out), "thresholds": labels.thresholds,
                      "value_checks": {"verdict": checks["verdict"], "problems": checks["problems"]} if checks else "off",
                      "positive_fraction": round(labels.positive_fraction(), 4),
                      "positive_fraction_by_source_and_outcome": {
                          f"{g.source}/{g.outcome}": round(g.positive_fraction, 4) for g in groups},
                      "positive_fraction_of_successes_by_fifth": phases and [round(f, 4) for f in phases]},
                     indent=2))
    print(format_breakdown(groups), format_phases(phases), sep="\n", file=sys.stderr)
    return 0


def _train_policy(a: argparse.Namespace) -> int:
    from recap_trainer.labels import Labels
    from recap_trainer.training.episodes import open_datasets
    from recap_trainer.training.train_policy import PolicyTrainConfig, train_policy

    train = _train_config(a)
    with options_named(indicator_dropout="--indicator-dropout", awr_temperature="--awr-temperature",
                       awr_max_weight="--awr-max-weight"):
        method = PolicyTrainConfig(a.method, a.indicator_dropout, a.awr_temperature, a.awr_max_weight)
    model_sizes = _image_model(a)
    check_checkpoint_out(a.out, a.resume, a.force)
    labels = Labels.load(a.labels) if a.labels else None
    catalog = open_datasets(a.data)
    relative_dims = relative_dims_for(a.action_frame, catalog.robot.action_dim, catalog.robot.gripper_indices)
    with options_named(horizon="--horizon", denoising_steps="--denoising-steps", image_shift="--image-shift"):
        out = train_policy(catalog, a.out, train, method, labels, init_from=a.init_from,  # checked before training
                           resume=a.resume, cameras=tuple(a.cameras), model_sizes=model_sizes,
                           policy_sizes={"horizon": a.horizon, "denoising_steps": a.denoising_steps,
                                         "relative_dims": relative_dims})
    _say(f"policy checkpoint: {out}")
    return 0


def _iterate(a: argparse.Namespace) -> int:
    from recap_trainer.algorithm import iterate, pretrain
    from recap_trainer.training.episodes import open_datasets
    from recap_trainer.training.train_policy import PolicyTrainConfig

    if a.iteration < 0:
        raise UsageError(f"--iteration must be >= 0, got {a.iteration}")
    common = dict(batch_size=a.batch_size, seed=a.seed, threads=a.threads, device=a.device, amp=a.amp,
                  ema_decay=a.ema_decay)
    named = dict(batch_size="--batch-size", seed="--seed", threads="--threads", ema_decay="--ema-decay")
    with options_named(steps="--value-steps", **named):
        value_training = TrainConfig(steps=a.value_steps, **common)
    with options_named(steps="--policy-steps", **named):
        policy_training = TrainConfig(steps=a.policy_steps, **common)
    with options_named(n_step="--n-step", positive_fraction="--positive-fraction", fraction="--holdout-fraction"):
        cfg = AlgorithmConfig.from_pretraining(value_training, policy_training, policy=PolicyTrainConfig(a.method),
                                               n_step=a.n_step, finetune_positive_fraction=a.positive_fraction,
                                               cameras=tuple(a.cameras), value_holdout_fraction=a.holdout_fraction,
                                               value_checks=a.value_checks,
                                               value_time_input=bool(a.time_input), policy_init=a.policy_init)
    needs_pretraining = not (a.work_dir / "pretrained" / "policy" / "config.json").is_file()
    if needs_pretraining:  # a pre-training that stopped half-way is not silently overwritten
        check_output_dir(a.work_dir / "pretrained", overwrite=a.force, what="pre-training directory")
    check_output_dir(a.work_dir / f"iter_{a.iteration}", overwrite=a.force, what=f"iteration {a.iteration} directory")
    if needs_pretraining:
        pretrain(open_datasets(a.demos), a.work_dir, cfg)
    policy = iterate(open_datasets([*a.demos, *a.data]), a.work_dir, a.iteration, cfg)
    _say(f"policy checkpoint: {policy}")
    return 0


def _say(message: str) -> None:
    from recap_trainer.training.run import is_main_process

    if is_main_process():  # under torchrun every process runs the command
        print(message)
