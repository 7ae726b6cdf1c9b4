"""recap-lab loop: Algorithm 1 of RECAP on a simulated task, through the ROS graph."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
from pathlib import Path

from recap_core.aloha_layout import CAMERA_NAMES
from recap_lab.seeds import MAX_RUN_SEED
from recap_model.models.config import ObservationConfig
from recap_lab.self_improvement.config import (BASELINES, OBSERVATIONS, POLICY_INITS, PRESETS, VISION_IMAGE_SIZE,
                                              LoopConfig, preset)
from recap_bringup.graph_session import GraphStopped
from recap_bringup.ros_domain import MAX_DOMAIN_ID, domain_id_option, requested_domain_id
from recap_bringup.termination import INTERRUPTED_EXIT_CODE, terminate_as_interrupt

_MONTE_CARLO = "monte-carlo"  # --monte-carlo's value: LoopConfig.finetune_n_step = None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recap-lab loop",
        description="Run the RECAP self-improvement loop in simulation: mixed-quality scripted demos -> "
                    "V_pre, pi_pre -> deploy pi^k through the ROS graph (sim, simulated operator, policy, "
                    "arbitration, recorder) -> bags -> dataset -> V^k+1, pi^k+1 (from the pre-trained "
                    "checkpoints) -> ... Evaluates every iteration and writes <workdir>/REPORT.md. "
                    "Interrupted runs resume from the last finished step; a training stopped part-way continues from "
                    "its last checkpoint.")
    parser.add_argument("--task", default="espresso", help="sim task: espresso | transfer_cube")
    parser.add_argument("--size", choices=sorted(PRESETS), default="default",
                        help="preset sizes: quick (smoke test, ~2 min), default (<= 30 min on 2 cores, no "
                             "baselines) or full (default + BC, filtered BC and AWR, ~55 min)")
    parser.add_argument("--quick", action="store_const", const="quick", dest="size", help="same as --size quick")
    parser.add_argument("--observation", choices=OBSERVATIONS, default="sim-state",
                        help="what the value function and the policies see: 'cameras' = joints + camera images, "
                             "as on a real robot (rendered for demonstrations, deployments and evaluation; no "
                             "simulator state anywhere); 'sim-state' (default) = joints + the simulator's object "
                             "state, which no real robot publishes (fast, for experiments on the method)")
    parser.add_argument("--cameras", nargs="+", choices=CAMERA_NAMES, default=None, metavar="CAM",
                        help=f"with --observation cameras: the cameras the policies see (default: all of "
                             f"{' '.join(CAMERA_NAMES)})")
    parser.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help=f"with --observation cameras: the size every camera is rendered at (default "
                             f"{VISION_IMAGE_SIZE[0]} {VISION_IMAGE_SIZE[1]})")
    parser.add_argument("--policy-image-shift", type=int, default=None, metavar="N",
                        help="with --observation cameras: random-shift augmentation of the policies' images in "
                             "training, up to +-N pixels (DrQ; pi_pre, every pi^k, the baselines; the value "
                             f"functions keep {ObservationConfig().image_shift}); 0 = off; default "
                             f"{ObservationConfig().image_shift}; part of the run's identity")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=None, metavar="N",
                       help=f"the run's seed (0..{MAX_RUN_SEED}, default 0): its demonstration and deployment "
                            "scenes and its training; part of the run's identity. Every run is evaluated on the "
                            "same evaluation episodes")
    seeds.add_argument("--seeds", type=int, nargs="+", default=None, metavar="N",
                       help="independent runs, one per seed, in <workdir>/seed_<N> one after another (each resumes "
                            "on its own), then <workdir>/SEEDS.md: every run's results and ratios and their median")
    parser.add_argument("--reference-noise-scales", type=float, nargs="*", default=None, metavar="S",
                        help="also report the SFT policy at the sampling noise that suits it best, chosen among "
                             "these scales and --noise-scale on validation episodes (default: 0.5 1 for "
                             "--observation cameras, none for sim-state; give no value to switch it off)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="default: runs/loop_<task>_<size> (sim-state) or runs/loop_<task>_<size>_cameras")
    parser.add_argument("--sft-from", type=Path, default=None, metavar="RUN",
                        help="start from the SFT policy of the finished loop run RUN: its demonstrations, V_pre, "
                             "pi_pre, pi^0 and pi^0's evaluation (and noise validation) are hard-linked into "
                             "--workdir, so runs that differ only after pi^0 (--n-step, --positive-fraction, "
                             "--policy-init, --rollouts, --iterations, --takeover-deviation) compare from the same "
                             "pi^0 and skip those steps. RUN must agree on everything else; the report names it")
    parser.add_argument("--iterations", type=int, default=None, help="override K")
    parser.add_argument("--rollouts", type=int, default=None, help="override deployments per iteration")
    parser.add_argument("--eval-episodes", type=int, default=None, help="override evaluation episodes per policy")
    parser.add_argument("--demos", type=int, default=None, help="override the scripted demonstrations")
    parser.add_argument("--value-steps", type=int, default=None,
                        help="override V_pre's gradient steps (each fine-tune: half)")
    parser.add_argument("--policy-steps", type=int, default=None,
                        help="override pi_pre's gradient steps (each fine-tune: half; baselines: pre-training "
                             "plus one fine-tune)")
    parser.add_argument("--render-cameras", action="store_true",
                        help="render and record the three cameras during deployments (slower; the loop's "
                             "state-only policies do not use them)")
    parser.add_argument("--takeover-deviation", type=float, nargs=2, default=None, metavar=("RAD", "SECONDS"),
                        help="the simulated operator takes over when the executed command stays RAD from its "
                             "shadow expert's for SECONDS (default: the sim config's 1.2 rad for 0.5 s)")
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument("--n-step", type=int, default=None, dest="finetune_n_step", metavar="N",
                        help="fine-tuning advantages over N steps, A_t = r_t + ... + r_t+N-1 + V(o_t+N) - V(o_t) "
                             "(the paper: 50) instead of the default Monte Carlo A_t = R_t - V(o_t)")
    labels.add_argument("--monte-carlo", dest="finetune_n_step", action="store_const", const=_MONTE_CARLO,
                        help="Monte Carlo fine-tuning advantages, A_t = R_t - V(o_t) (the default; docs/BRINGUP.md)")
    parser.add_argument("--positive-fraction", type=float, default=None, dest="finetune_positive_fraction",
                        metavar="F", help="share of the deployments' steps labelled \"Advantage: positive\" in "
                                          "fine-tuning, eps_l's percentile (default "
                                          f"{LoopConfig.finetune_positive_fraction}; the paper: about 0.4, 0.1 for "
                                          "a slow but reliable SFT policy); part of the run's identity")
    parser.add_argument("--policy-init", choices=POLICY_INITS, default=None,
                        help="where pi^1..pi^K start: pi_pre (the paper, the default: fine-tuned from pi_pre for "
                             "half of --policy-steps) or scratch (random weights trained for 1.5x --policy-steps, "
                             "the baselines' budget); pi^0 is fine-tuned from pi_pre either way; part of the "
                             "run's identity")
    parser.add_argument("--policy-ema-decay", type=float, default=None, metavar="D",
                        help="save every policy the run trains (pi_pre, pi^k, baselines) as the moving average "
                             "of its weights with decay D per step (openpi trains pi0 with 0.99); default 0: the "
                             "last weights; part of the run's identity")
    parser.add_argument("--noise-scale", type=float, default=None, metavar="S",
                        help="scale of the flow's starting noise for every policy evaluated and deployed "
                             f"(default {LoopConfig.noise_scale}; 1 = the paper's sampling; a run made at 0.5 "
                             "resumes with --noise-scale 0.5)")
    baselines = parser.add_mutually_exclusive_group()
    baselines.add_argument("--baselines", nargs="*", choices=BASELINES, metavar="METHOD", default=None,
                           help=f"also train and evaluate these baselines on the final data, each with pi^K's "
                                f"policy steps ({', '.join(BASELINES)}; no METHOD: all three). A finished run of "
                                "the same sizes resumes and only adds them")
    baselines.add_argument("--no-baselines", action="store_true", help="skip them (the full preset's too)")
    parser.add_argument("--value-checks", choices=("warn", "refuse", "off"), default=None,
                        help="before each value function's labels are used, check on held-out episodes that V "
                             "separates successes from failures and is calibrated, and that no source is 0 %% or "
                             "100 %% positive (docs/TRAINER.md): warn (default), refuse (stop the run; finished "
                             "steps are kept) or off")
    parser.add_argument("--value-time-input", action="store_true",
                        help="the value functions also see the time since the episode started (docs/TRAINER.md, "
                             "\"The value function sees the time\"): more accurate on held-out episodes, not yet "
                             "shown to make better policies, so off by default; part of the run's identity")
    parser.add_argument("--train-threads", type=int, default=None,
                        help="torch threads for training and evaluation, and processes generating the "
                             "demonstrations (default: 2)")
    parser.add_argument("--domain-id", type=domain_id_option, default=None, metavar="N",
                        help=f"ROS domain (0..{MAX_DOMAIN_ID}) of the deployments' graphs, so that graphs on "
                             "one machine stay apart (default: $ROS_DOMAIN_ID; unset: a domain no process on "
                             "this machine uses, chosen each time a graph starts). Not part of the run's "
                             "identity: a run resumes in any domain")
    return parser


def _baselines(opts: argparse.Namespace) -> tuple[str, ...] | None:
    """--baselines METHOD... (none named: all), --no-baselines, or neither (None: the preset's)."""
    if opts.no_baselines:
        return ()
    if opts.baselines is None:
        return None
    return tuple(dict.fromkeys(opts.baselines)) or BASELINES


def config_from(opts: argparse.Namespace) -> LoopConfig:
    """The preset named by --size with the command line's overrides (ValueError when out of range)."""
    overrides = {"task": opts.task}
    if opts.observation != "cameras" and (opts.cameras or opts.image_size or opts.policy_image_shift is not None):
        raise ValueError("--cameras, --image-size and --policy-image-shift need --observation cameras")
    for name, value in (("iterations", opts.iterations), ("rollouts_per_iteration", opts.rollouts),
                        ("eval_episodes", opts.eval_episodes), ("demos", opts.demos),
                        ("value_steps", opts.value_steps), ("policy_steps", opts.policy_steps),
                        ("baselines", _baselines(opts)), ("train_threads", opts.train_threads),
                        ("takeover_deviation", tuple(opts.takeover_deviation) if opts.takeover_deviation else None),
                        ("finetune_n_step", opts.finetune_n_step), ("noise_scale", opts.noise_scale),
                        ("finetune_positive_fraction", opts.finetune_positive_fraction),
                        ("policy_init", opts.policy_init), ("policy_ema_decay", opts.policy_ema_decay),
                        ("cameras", tuple(opts.cameras) if opts.cameras else None),
                        ("image_size", tuple(opts.image_size) if opts.image_size else None),
                        ("policy_image_shift", opts.policy_image_shift),
                        ("reference_noise_scales", None if opts.reference_noise_scales is None
                         else tuple(opts.reference_noise_scales)), ("seed", opts.seed),
                        ("value_checks", opts.value_checks)):
        if value is not None:
            overrides[name] = value
    if overrides.get("finetune_n_step") == _MONTE_CARLO:
        overrides["finetune_n_step"] = None
    if opts.render_cameras:
        overrides["render_cameras"] = True
    if opts.value_time_input:
        overrides["value_time_input"] = True
    return dataclasses.replace(preset(opts.size, opts.observation), **overrides)


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s %(name)s] %(message)s", datefmt="%H:%M:%S")
    try:
        cfg = config_from(opts)
        domain_id = requested_domain_id(opts.domain_id, os.environ)
    except ValueError as error:
        print(f"recap-lab loop: {error}", file=sys.stderr)
        return 2
    suffix = "_cameras" if cfg.observation == "cameras" else ""
    workdir = opts.workdir or Path("runs") / f"loop_{opts.task}_{opts.size}{suffix}"
    try:
        runs = [(dataclasses.replace(cfg, seed=seed), workdir / f"seed_{seed}") for seed in opts.seeds] \
            if opts.seeds else [(cfg, workdir)]
    except ValueError as error:
        print(f"recap-lab loop: {error}", file=sys.stderr)
        return 2
    if opts.seeds and len(set(opts.seeds)) != len(opts.seeds):
        print(f"recap-lab loop: --seeds repeats a seed: {opts.seeds}", file=sys.stderr)
        return 2
    if opts.seeds and opts.sft_from:
        print("recap-lab loop: --sft-from starts one run (--seed), not several", file=sys.stderr)
        return 2
    from recap_lab.self_improvement.run import run_loop
    from recap_lab.self_improvement.seed_summary import write_seed_summary
    from recap_model.checkpoint import CheckpointError

    started = time.monotonic()
    terminate_as_interrupt()
    try:
        for run_cfg, run_dir in runs:
            report = run_loop(run_cfg, run_dir, domain_id, opts.sft_from)
        if opts.seeds:
            report = write_seed_summary(workdir, [run_dir for _, run_dir in runs])
    except (GraphStopped, FileNotFoundError, ValueError) as error:
        print(f"recap-lab loop: stopped: {error}\nFinished steps are kept; run the same command to resume.",
              file=sys.stderr)
        return 1
    except CheckpointError as error:  # a training that stopped part-way, left by other code or damaged
        print(f"recap-lab loop: stopped: {error}\nA training that stopped part-way continues from its last "
              "checkpoint; this one cannot. Remove that checkpoint's directory to train the step again from "
              "the start; finished steps are kept.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("recap-lab loop: interrupted; the nodes were stopped. Finished steps are kept; run the same "
              "command to resume.", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE
    print(Path(report).read_text())
    print(f"\nreport: {report} (wall time {(time.monotonic() - started) / 60:.1f} min)")
    return 0
