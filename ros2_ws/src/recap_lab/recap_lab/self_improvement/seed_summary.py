"""Several independent runs of the loop (one per seed) summed up: every run's headline ratios and
their distribution. All runs are shown, never only the best; the median run is the one to quote."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recap_core.output_files import write_json_atomic, write_text_atomic
from recap_lab.self_improvement.config import NOT_IDENTITY, load_run_config


@dataclass(frozen=True)
class RunSummary:
    """One run's evaluated policies: pi^0 (SFT), pi^K, the SFT reference at its best noise and pi^K
    at that noise (or None) and the baselines, each as {"success", "failure", "throughput"}."""

    run_dir: Path
    seed: int
    sft: dict[str, float]
    final: dict[str, float]
    final_label: str
    tuned_reference: dict[str, float] | None
    tuned_noise: float | None
    final_at_tuned_noise: dict[str, float] | None
    baselines: dict[str, dict[str, float]]

    def ratios(self) -> dict[str, float | None]:
        """pi^K against pi^0 sampled alike, and against pi^0 at its own best noise; and pi^K's
        throughput against each baseline's (> 1: RECAP ahead)."""
        out = {"throughput vs SFT": ratio(self.final["throughput"], self.sft["throughput"]),
               "failure rate vs SFT": ratio(self.final["failure"], self.sft["failure"])}
        if self.tuned_reference is not None:
            out["throughput vs tuned SFT"] = ratio(self.final["throughput"], self.tuned_reference["throughput"])
            out["failure rate vs tuned SFT"] = ratio(self.final["failure"], self.tuned_reference["failure"])
        if self.tuned_reference is not None and self.final_at_tuned_noise is not None:
            out["throughput vs tuned SFT, sampled alike"] = ratio(self.final_at_tuned_noise["throughput"],
                                                                   self.tuned_reference["throughput"])
            out["failure rate vs tuned SFT, sampled alike"] = ratio(self.final_at_tuned_noise["failure"],
                                                                     self.tuned_reference["failure"])
        for name, metrics in sorted(self.baselines.items()):
            out[f"throughput vs {name}"] = ratio(self.final["throughput"], metrics["throughput"])
        return out


def load_run(run_dir: Path) -> RunSummary:
    from recap_lab.report import load_report

    config = load_run_config(run_dir)
    k = config.iterations
    metrics = lambda r: {"success": r.success_rate.value, "failure": r.failure_rate.value,  # noqa: E731
                         "throughput": r.throughput_per_hour.value}
    sft = load_report(run_dir / "eval" / "iter_0.json")
    final = load_report(run_dir / "eval" / f"iter_{k}.json")
    tuned_path = run_dir / "eval" / "reference" / "tuned.json"
    tuned = load_report(tuned_path) if tuned_path.exists() else None
    alike_path = run_dir / "eval" / "reference" / f"iter_{k}.json"
    alike = load_report(alike_path) if alike_path.exists() else None
    baselines = {p.stem: metrics(load_report(p)) for p in sorted((run_dir / "eval").glob("*.json"))
                 if not p.stem.startswith("iter_")}
    return RunSummary(run_dir, config.seed, metrics(sft), metrics(final), final.label,
                      metrics(tuned) if tuned else None, tuned.noise_scale if tuned else None,
                      metrics(alike) if alike else None, baselines)


# Fields of a run's config.json that may differ between the runs of one summary: the seed, and what
# is not part of a run's identity.
PER_RUN_FIELDS = ("seed", *NOT_IDENTITY)


def check_runs(run_dirs: list[Path]) -> None:
    """Raises ValueError unless every run is finished (config.json, pi^0's and pi^K's evaluations) and
    all were made with one configuration but their seeds, each seed once: a summary never mixes
    configurations or counts a run twice."""
    configs = [load_run_config(d) for d in run_dirs]
    for d, config in zip(run_dirs, configs):
        missing = [f"eval/iter_{k}.json" for k in (0, config.iterations)
                   if not (d / "eval" / f"iter_{k}.json").is_file()]
        if missing:
            raise ValueError(f"{d}: the run has not finished ({', '.join(missing)} missing); finish it with the "
                             "same `recap-lab loop` command")
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"two runs have the same seed ({seeds}): each seed is one run")
    for d, config in zip(run_dirs[1:], configs[1:]):
        differ = configs[0].differences(config, PER_RUN_FIELDS)
        if differ:
            raise ValueError(f"{d} was made with other settings than {run_dirs[0]} ({'; '.join(differ)}): a summary "
                             "over seeds compares runs of one configuration")


def write_seed_summary(workdir: Path, run_dirs: list[Path]) -> Path:
    """<workdir>/SEEDS.md and seeds.json over the finished runs in `run_dirs` (check_runs); returns
    SEEDS.md. The runs may live anywhere, e.g. copied back from the machines that ran them."""
    check_runs(run_dirs)
    runs = [load_run(d) for d in run_dirs]
    names = list(dict.fromkeys(name for run in runs for name in run.ratios()))
    lines = [f"# {len(runs)} independent runs of the RECAP loop", "",
             "Each run has its own demonstrations, deployments and training seed; all are evaluated on the same "
             "episodes. Every run is listed; the median is the figure to quote (the paper's headline: "
             "throughput >= 2x, failure rate <= 0.5x against the SFT policy).", "",
             "| seed | SFT success / throughput | tuned SFT (noise) | final success / throughput | "
             + " | ".join(names) + " |", "|---" * (4 + len(names)) + "|"]
    for run in runs:
        tuned = (f"{run.tuned_reference['success']:.1%} / {run.tuned_reference['throughput']:.0f}/h "
                 f"({run.tuned_noise:g})" if run.tuned_reference else "-")
        ratios = run.ratios()
        lines.append(f"| {run.seed} | {run.sft['success']:.1%} / {run.sft['throughput']:.0f}/h | {tuned} | "
                     f"{run.final['success']:.1%} / {run.final['throughput']:.0f}/h | "
                     + " | ".join(format_ratio(ratios.get(n)) for n in names) + " |")
    distribution = {}
    for name in names:
        values = [v for v in (run.ratios().get(name) for run in runs) if v is not None]
        if values:
            distribution[name] = {"median": float(np.median(values)), "min": min(values), "max": max(values),
                                  "runs": len(values)}
    lines += ["", "| ratio | median | min | max | runs |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {d['median']:.2f}x | {d['min']:.2f}x | {d['max']:.2f}x | {d['runs']} |"
              for n, d in distribution.items()]
    if runs:
        lines += ["", f"Final policy: {runs[0].final_label}. Per-run reports: "
                  + ", ".join(f"[seed {r.seed}]({Path(os.path.relpath(r.run_dir, workdir)).as_posix()}/REPORT.md)"
                                for r in runs), ""]
    write_json_atomic(workdir / "seeds.json", {"runs": [{"seed": r.seed, "run_dir": str(r.run_dir), "sft": r.sft,
                                                         "final": r.final, "tuned_reference": r.tuned_reference,
                                                         "tuned_noise": r.tuned_noise,
                                                         "final_at_tuned_noise": r.final_at_tuned_noise,
                                                         "baselines": r.baselines,
                                                         "ratios": r.ratios()} for r in runs],
                                               "distribution": distribution}, indent=1)
    path = workdir / "SEEDS.md"
    write_text_atomic(path, "\n".join(lines))
    return path


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"
