"""Offline comparison of policy-extraction methods on the same mixed-quality data (docs/RESULTS.md).

    python -m recap_lab.experiments.offline_comparison --task transfer_cube --work-dir runs/offline

Per task: generate mixed-quality scripted-expert demonstrations -> train one value function V on
them -> label advantages (Monte Carlo, ~30 % positive: RECAP's pre-training stage; this data is all
demonstrations) -> train plain BC, filtered BC (successes only), AWR and RECAP with the same model,
data, steps, batch size and seed -> evaluate each for the same seeded episodes (RECAP at
beta = 1, 1.5, 2.5) -> figures + `results_<task>.json`. With `--probe-n-step N` (default 50) it also
trains RECAP on n-step pre-training labels from the same V (row `recap_nstep<N>`, beta = 1): a probe
of a deviation from the paper's Monte Carlo pre-training labels (docs/TRAINER.md, "Labels").
Every stage is skipped when its output exists, so an interrupted run resumes. `--write-doc`
regenerates the results part of docs/RESULTS.md from every task's results found in the work dir,
each section with the command
(and sizes) that produced it, so tasks run with different sizes can share one work dir;
`--seed-dirs` adds a table of the main rows over the training seeds of several work dirs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from recap_lab.datagen import DatagenConfig, generate_dataset
from recap_lab.evaluation import EXECUTE_STEPS, EvaluationConfig, evaluate_policy
from recap_lab.machine import machine_summary
from recap_lab.seeds import EVALUATION_SEED
from recap_trainer.labels import LabelConfig, Labels
from recap_lab.experiments.offline_results_doc import all_claims, write_results_doc
from recap_lab.plots import plot_method_comparison
from recap_lab.report import advantage_figures, load_report, sample_episodes, value_figure
from recap_trainer.rewards import RewardConfig

# (label, training method, guidance scale beta)
VARIANTS = (("bc", "bc", 1.0), ("filtered_bc", "filtered_bc", 1.0), ("awr", "awr", 1.0),
            ("recap", "recap", 1.0), ("recap", "recap", 1.5), ("recap", "recap", 2.5))


@dataclass(frozen=True)
class ExperimentConfig:
    task: str
    train_episodes: int = 200  # demonstrations generated (seeds 0 ..)
    value_steps: int = 1500
    policy_steps: int = 3000  # the same for every method
    batch_size: int = 64
    eval_episodes: int = 200
    eval_seed: int = EVALUATION_SEED
    execute_steps: int = EXECUTE_STEPS
    positive_fraction: float = 0.3
    seed: int = 0  # training seed, the same for every method
    threads: int = 1
    probe_n_step: int = 50  # also RECAP on n-step (N) pre-training labels; 0 = off

    def __post_init__(self) -> None:
        if min(self.train_episodes, self.value_steps, self.policy_steps, self.batch_size, self.eval_episodes) < 1:
            raise ValueError(f"experiment sizes must be >= 1: {self}")
        if self.probe_n_step < 0:
            raise ValueError(f"probe_n_step must be >= 0 (0 = no probe), got {self.probe_n_step}")

    def variants(self) -> tuple[tuple[str, str, float], ...]:
        """(policy directory, training method, beta) of every evaluated row."""
        probe = ((probe_name(self.probe_n_step), "recap", 1.0),) if self.probe_n_step else ()
        return VARIANTS + probe


def probe_name(n_step: int) -> str:
    return f"recap_nstep{n_step}"


def variant_name(label: str, beta: float) -> str:
    return label if label != "recap" else f"recap_beta{beta:g}"


def run_task(config: ExperimentConfig, work_dir: Path, figures_dir: Path) -> dict:
    from recap_trainer.algorithm import label_with_value
    from recap_model.policy import load_policy
    from recap_trainer.training.episodes import open_datasets
    from recap_trainer.training.run import TrainConfig
    from recap_trainer.training.train_policy import PolicyTrainConfig, train_policy
    from recap_trainer.training.train_value import train_value

    torch.set_num_threads(config.threads)
    root = work_dir / config.task
    _check_same_experiment(root / "summary.json", config)
    root.mkdir(parents=True, exist_ok=True)
    wall_file = root / "wall_times.json"  # per stage, kept across resumed runs
    wall: dict[str, float] = json.loads(wall_file.read_text()) if wall_file.exists() else {}

    def timed(stage: str, done: bool, work) -> None:
        if done:
            print(f"[{config.task}] {stage}: already done, skipped", flush=True)
            return
        started = time.perf_counter()
        work()
        wall[stage] = round(time.perf_counter() - started, 1)
        wall_file.write_text(json.dumps(wall, indent=1))
        print(f"[{config.task}] {stage}: {wall[stage]} s", flush=True)

    data_dir = root / "data"
    timed("generate", (data_dir / "manifest.json").exists() and _episodes(data_dir) >= config.train_episodes,
          lambda: generate_dataset(data_dir, DatagenConfig(task=config.task, episodes=config.train_episodes)))
    catalog = open_datasets([data_dir])
    train = TrainConfig(steps=config.policy_steps, batch_size=config.batch_size, seed=config.seed,
                        threads=config.threads)
    value_dir, labels_dir = root / "value", root / "labels"
    timed("train value", (value_dir / "config.json").exists(), lambda: train_value(
        catalog, value_dir, TrainConfig(steps=config.value_steps, batch_size=config.batch_size, seed=config.seed,
                                        threads=config.threads), RewardConfig.from_episodes(catalog)))

    def label(out: Path, n_step: int | None) -> None:
        label_with_value(catalog, value_dir, LabelConfig(stage="pretrain", n_step=n_step,
                                                         positive_fraction=config.positive_fraction)).save(out)
    timed("label", (labels_dir / "labels.json").exists(), lambda: label(labels_dir, None))
    labels = {"recap": Labels.load(labels_dir)}
    if config.probe_n_step:
        probe, probe_dir = probe_name(config.probe_n_step), root / f"labels_nstep{config.probe_n_step}"
        timed(f"label {probe}", (probe_dir / "labels.json").exists(), lambda: label(probe_dir, config.probe_n_step))
        labels[probe] = Labels.load(probe_dir)
    policy_labels = {**labels, "awr": labels["recap"]}  # AWR weights by the paper's advantages
    for policy, method in dict.fromkeys((policy, method) for policy, method, _ in config.variants()):
        out = root / "policies" / policy
        timed(f"train {policy}", (out / "config.json").exists() and _steps_done(out) >= config.policy_steps,
              lambda out=out, method=method, policy=policy: train_policy(
                  catalog, out, train, PolicyTrainConfig(method=method), policy_labels.get(policy), resume=True))

    reports = []
    for policy, _, beta in config.variants():
        name = variant_name(policy, beta)
        path = root / "evaluations" / f"{name}.json"
        evaluation = EvaluationConfig(task=config.task, episodes=config.eval_episodes, seed=config.eval_seed,
                                      execute_steps=config.execute_steps, guidance_scale=beta)
        timed(f"evaluate {name}", path.exists(), lambda path=path, policy=policy, evaluation=evaluation, name=name:
              evaluate_policy(load_policy(root / "policies" / policy), evaluation, label=name).save(path))
        reports.append(load_report(path))

    figures_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "value": value_figure(catalog, labels["recap"], sample_episodes(catalog, 3),
                              figures_dir / f"value_{config.task}.png",
                              title=f"{config.task}: V(o_t) on sample demonstrations"),
        "advantages": advantage_figures(catalog, labels["recap"], figures_dir)[config.task],
        "comparison": plot_method_comparison([r.label for r in reports], [r.success_rate for r in reports],
                                             [r.throughput_per_hour for r in reports],
                                             figures_dir / f"comparison_{config.task}.png",
                                             title=f"{config.task}: {config.eval_episodes} episodes per method"),
    }
    summary = {"config": asdict(config), "wall_time_s": wall, "data": _data_summary(catalog),
               "labels": {name: {"threshold": lab.thresholds[config.task], "positive_fraction": lab.positive_fraction()}
                          for name, lab in labels.items()},
               "evaluations": {r.label: r.to_dict() | {"results": None} for r in reports},
               "figures": {k: str(v) for k, v in figures.items()}, "machine": machine_info()}
    (root / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _check_same_experiment(summary_path: Path, config: ExperimentConfig) -> None:
    """A finished task re-run with other sizes would skip its stages and then relabel the old
    results with the new sizes: refuse instead (threads do not change results; the probe only
    adds or drops its own row, named after its N)."""
    if not summary_path.exists():
        return
    done = json.loads(summary_path.read_text())["config"]
    asked = asdict(config)
    differ = [f"{k}: {done[k]} (done) vs {asked[k]} (asked)" for k in asked
              if k not in ("threads", "probe_n_step") and done.get(k) != asked[k]]
    if differ:
        raise ValueError(f"{summary_path.parent} was produced with other settings ({'; '.join(differ)}); "
                         f"pass the same sizes or use another --work-dir")


def machine_info() -> dict:
    import os
    cores = os.cpu_count()
    return {"summary": f"{machine_summary()}, torch {torch.__version__}", "cores": cores}


def _episodes(data_dir: Path) -> int:
    return len(json.loads((data_dir / "manifest.json").read_text())["episodes"])


def _steps_done(checkpoint: Path) -> int:
    """Gradient steps a (possibly intermediate) checkpoint was saved at."""
    config = checkpoint / "config.json"
    return int(json.loads(config.read_text())["training"].get("steps_done", 0)) if config.exists() else 0


def _data_summary(catalog) -> dict:
    outcomes: dict[str, int] = {}
    profiles: dict[str, int] = {}
    for k, s in enumerate(catalog.summaries):
        outcomes[s.outcome] = outcomes.get(s.outcome, 0) + 1
        name = catalog.episode(k).metadata.get("profile", {}).get("name", "?")
        profiles[name] = profiles.get(name, 0) + 1
    return {"episodes": len(catalog), "steps": int(sum(s.num_steps for s in catalog.summaries)),
            "outcomes": outcomes, "profiles": profiles}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recap_lab.experiments.offline_comparison", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", action="append", default=[], help="sim task (repeatable)")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/offline_comparison"))
    parser.add_argument("--figures-dir", type=Path, default=Path("docs/results"))
    parser.add_argument("--doc", type=Path, default=Path("docs/RESULTS.md"))
    parser.add_argument("--write-doc", action="store_true",
                        help="regenerate --doc from the work dir's results (alone: without running any task)")
    parser.add_argument("--seed-dirs", type=Path, nargs="*", default=[],
                        help="with --write-doc: work dirs of the same experiment with other --seed values, "
                             "tabulated per task next to --work-dir's")
    for field, value in asdict(ExperimentConfig(task="?")).items():
        if field != "task":
            parser.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    return parser


def configs_from(args: argparse.Namespace) -> list[ExperimentConfig]:
    sizes = {k: getattr(args, k) for k in asdict(ExperimentConfig(task="?")) if k != "task"}
    return [ExperimentConfig(task=task, **sizes) for task in args.task]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.task and not args.write_doc:
        parser.error("give at least one --task, or --write-doc to regenerate the document")
    for config in configs_from(args):
        summary = run_task(config, args.work_dir, args.figures_dir)
        print("\n".join(all_claims(summary)), flush=True)
    if args.write_doc:
        write_results_doc(args.work_dir, args.doc, args.seed_dirs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
