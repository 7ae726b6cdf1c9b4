"""Report building blocks: sample-episode value traces, advantage histograms per task, result tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recap_lab.evaluation import EpisodeResult, EvaluationConfig, EvaluationReport
from recap_lab.plots import ValueTrace, plot_advantage_histogram, plot_value_over_time


def load_report(path: str | Path) -> EvaluationReport:
    """An evaluation JSON written by `EvaluationReport.save` (metrics are recomputed, seeded)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return EvaluationReport(label=data["label"], config=EvaluationConfig(**data["config"]),
                                results=tuple(EpisodeResult(**r) for r in data["results"]),
                                wall_time_s=float(data["wall_time_s"]),
                                noise_scale=data["noise_scale"],  # null: a policy without one
                                sampler_seed=data.get("sampler_seed"),  # absent: written before it was recorded
                                executor=data.get("executor", "in-process"))  # written before graph runs: in-process
    except (OSError, KeyError, TypeError, ValueError) as error:  # ValueError: bad JSON, no episodes
        raise ValueError(f"{path}: not an evaluation report: {error!r}") from error


def sample_episodes(catalog, count: int = 4) -> list[str]:
    """Episodes worth looking at: the fastest and the slowest success, a failure, and the first
    one with a human intervention when there is one (ids, at most `count`)."""
    summaries = [s for s in catalog.summaries if s.outcome != "abort"]
    successes = sorted((s for s in summaries if s.outcome == "success"), key=lambda s: s.num_steps)
    picks = [successes[0], successes[-1]] if successes else []
    picks += [s for s in summaries if s.outcome == "failure"][:1]
    index = {s.episode_id: k for k, s in enumerate(catalog.summaries)}
    picks += [s for s in summaries if np.any(catalog.episode(index[s.episode_id]).intervention)][:1]
    return list(dict.fromkeys(s.episode_id for s in picks))[:count]


def value_figure(catalog, labels, episode_ids: Sequence[str], path: str | Path, title: str = "") -> Path:
    """V(o_t) and R_t over time for `episode_ids` (intervention steps shaded)."""
    index = {s.episode_id: k for k, s in enumerate(catalog.summaries)}
    traces = []
    for episode_id in episode_ids:
        if episode_id not in labels.value:
            raise KeyError(f"episode {episode_id}: not in the labels (aborted, or labels of other data)")
        episode = catalog.episode(index[episode_id])
        traces.append(ValueTrace(label=f"{episode_id} ({episode.outcome}, {len(episode.timestamps)} steps)",
                                 timestamps=np.asarray(episode.timestamps), value=labels.value[episode_id],
                                 intervention=np.asarray(episode.intervention), returns=labels.returns[episode_id]))
    return plot_value_over_time(traces, path, title=title)


def advantage_figures(catalog, labels, out_dir: str | Path) -> dict[str, Path]:
    """One advantage histogram per task with its eps_l marked: task -> PNG path."""
    tasks = {s.episode_id: s.task for s in catalog.summaries}
    paths = {}
    for task, epsilon in sorted(labels.thresholds.items()):
        advantages = np.concatenate([a for e, a in labels.advantage.items() if tasks.get(e) == task])
        paths[task] = plot_advantage_histogram(
            advantages, epsilon, Path(out_dir) / advantage_figure_name(task),
            title=f"{task}: advantages ({labels.info.get('stage', '?')} stage, N = {labels.info.get('n_step') or 'T'})")
    return paths


VALUE_FIGURE, COMPARISON_FIGURE, TABLE = "value_over_time.png", "comparison.png", "report.md"


def advantage_figure_name(task: str) -> str:
    return f"advantages_{task}.png"


def report_files(labels, evaluations: bool) -> list[str]:
    """Names of the files a report writes: figures of the labels (value over time, one advantage
    histogram per task) and, with evaluations, the comparison figure and the markdown table."""
    names = []
    if labels is not None:
        names += [VALUE_FIGURE, *(advantage_figure_name(task) for task in sorted(labels.thresholds))]
    if evaluations:
        names += [COMPARISON_FIGURE, TABLE]
    return names


def results_table(reports: Sequence[EvaluationReport]) -> str:
    """Markdown table: one row per evaluated policy."""
    lines = ["| method | β | noise | episodes | success rate [95% CI] | failure rate [95% CI] | "
             "mean time to success s [95% CI] | throughput successes/h [95% CI] | "
             "task progress [95% CI] | failures by reason |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(r.failure_reasons.items())) or "-"
        noise = "-" if r.noise_scale is None else f"{r.noise_scale:g}"  # "-": a policy without sampling noise
        name = f"{r.label} (through the graph)" if r.executor == "graph" else r.label
        lines.append(f"| {name} | {r.config.guidance_scale:g} | {noise} | {len(r.results)} | {r.success_rate.format()} | "
                     f"{r.failure_rate.format()} | {r.mean_time_to_success_s.format(digits=1)} | "
                     f"{r.throughput_per_hour.format(digits=0)} | {r.mean_progress.format()} | {reasons} |")
    return "\n".join(lines)
