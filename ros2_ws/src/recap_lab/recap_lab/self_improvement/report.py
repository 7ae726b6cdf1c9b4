"""The loop's report: a table per iteration (success, failure, throughput, time to success,
interventions per episode, 95% CIs), each value function's checks, who each stage's advantage
labels call positive, the baselines on the same data, and plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from recap_lab.self_improvement.config import LoopConfig
from recap_lab.self_improvement.ledger import Ledger
from recap_lab.self_improvement.sft_reuse import RECORD as SFT_RECORD


def interventions_per_episode(ledger: Ledger, k: int) -> tuple[float, float, float] | None:
    """Mean takeovers per episode while pi^k was deployed (in iteration k + 1), with a 95% bootstrap CI."""
    counts = [r["interventions"] for r in ledger.results_under(f"iter_{k + 1}/deploy/episode_")]
    if not counts:
        return None
    data = np.asarray(counts, dtype=float)
    means = np.random.default_rng(0).choice(data, size=(2000, data.size)).mean(axis=1)
    return float(data.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _machines(ledger: Ledger) -> str:
    """The machine this report was written on, and the others that made steps of the run."""
    others = ledger.other_machines
    also = f" Steps of this run were also made on: {'; '.join(others)}." if others else ""
    return f"Machine (this report): {ledger.machine}.{also}"


def write_loop_report(workdir: Path, cfg: LoopConfig, ledger: Ledger) -> Path:
    from recap_lab.plots import plot_method_comparison
    from recap_lab.report import load_report, results_table

    iterations = [load_report(workdir / "eval" / f"iter_{k}.json") for k in range(cfg.iterations + 1)]
    baselines = [load_report(p) for p in sorted((workdir / "eval").glob("*.json")) if not p.stem.startswith("iter_")]
    figures = workdir / "report"
    figures.mkdir(parents=True, exist_ok=True)
    tuned_path = workdir / "eval" / "reference" / "tuned.json"
    tuned = load_report(tuned_path) if tuned_path.exists() else None
    at_reference = reference_noise_evaluations(workdir, cfg.iterations)
    everything = iterations + ([tuned] if tuned else []) + at_reference + baselines
    plot_method_comparison([r.label for r in everything], [r.success_rate for r in everything],
                           [r.throughput_per_hour for r in everything], figures / "by_iteration.png",
                           title=f"{cfg.task}: {cfg.eval_episodes} evaluation episodes per policy")
    lines = [f"# RECAP loop on `{cfg.task}`", "",
             f"{cfg.iterations} iteration(s); {cfg.demos} demonstrations; {cfg.rollouts_per_iteration} deployments "
             f"per iteration through the ROS graph (simulated operator correcting); {cfg.eval_episodes} evaluation "
             f"episodes per policy (seeded, in the sim core); fine-tuning advantages: "
             f"{'Monte Carlo' if cfg.finetune_n_step is None else f'{cfg.finetune_n_step}-step'}, "
             f"{cfg.finetune_positive_fraction:.0%} of the deployments' steps positive; pi^1..pi^K "
             + ("fine-tuned from pi_pre" if cfg.policy_init == "pi_pre" else "trained from scratch")
             + (f"; policies saved as the moving average of their weights (decay {cfg.policy_ema_decay:g})"
                if cfg.policy_ema_decay else "") +
             "; the policies see "
             + (f"the cameras {', '.join(cfg.cameras)} at {cfg.image_size[1]}x{cfg.image_size[0]} and the joints "
                f"(the policies' images shifted by up to {cfg.policy_image_shift} px in training)"
                if cfg.cameras else "the joints and the simulator's object state (no real robot publishes it)")
             + f"; run seed {cfg.seed}. "
             + _machines(ledger), "",
             *_sft_source(ledger),
             "## Per iteration", "", results_table(iterations), "",
             "| policy | interventions per deployed episode [95% CI] |", "|---|---|"]
    for k, report in enumerate(iterations):
        est = interventions_per_episode(ledger, k)
        lines.append(f"| {report.label} | " + (f"{est[0]:.2f} [{est[1]:.2f}, {est[2]:.2f}]" if est else "not deployed")
                     + " |")
    if len(iterations) > 1:
        first, last = iterations[0], iterations[-1]
        lines += ["", "## Against the SFT policy (the paper: throughput >= 2x, failure rate <= 0.5x)", "",
                  f"- throughput: {_ratio(last.throughput_per_hour.value, first.throughput_per_hour.value)}",
                  f"- failure rate: {_ratio(last.failure_rate.value, first.failure_rate.value)}"]
        if tuned:
            lines += ["", f"The SFT policy at the sampling noise that suits it best ({tuned.noise_scale:g}, chosen on "
                          f"{cfg.validation_episodes} validation episodes among {_scales(cfg)})"
                          + (", and the RECAP iterations at the same noise:" if at_reference else ":"), "",
                      results_table([tuned, *at_reference]), "",
                      f"- {last.label} at the loop's noise ({cfg.noise_scale:g}) against it: throughput "
                      f"{_ratio(last.throughput_per_hour.value, tuned.throughput_per_hour.value)}, failure rate "
                      f"{_ratio(last.failure_rate.value, tuned.failure_rate.value)}"]
            if len(at_reference) == cfg.iterations:
                alike = at_reference[-1]
                lines.append(f"- {alike.label}, sampled alike: throughput "
                             f"{_ratio(alike.throughput_per_hour.value, tuned.throughput_per_hour.value)}, failure "
                             f"rate {_ratio(alike.failure_rate.value, tuned.failure_rate.value)}")
    if baselines:
        lines += ["", "## Baselines on the same data and policy-training budget", "", results_table(baselines)]
    else:
        lines += ["", "No baselines in this run: rerun the same command with `--baselines` to add BC, filtered BC "
                      "and AWR on the same data (the finished steps are kept)."]
    lines += ["", *value_check_section(workdir, cfg.iterations)]
    catalog = _open_run_data(workdir, cfg.iterations)
    if catalog is not None:
        lines += ["", *label_section(workdir, cfg.iterations, catalog.summaries, cfg.finetune_positive_fraction)]
    lines += ["", "![success and throughput by iteration](report/by_iteration.png)", ""]
    value_png = _value_curves(workdir, cfg, catalog, figures / "value_curves.png")
    if value_png:
        lines += [f"![V(o_t) of sample episodes, interventions shaded](report/{value_png.name})", ""]
    path = workdir / "REPORT.md"
    path.write_text("\n".join(lines))
    (workdir / "report" / "summary.json").write_text(json.dumps(
        {r.label: r.to_dict() | {"results": None} for r in everything}, indent=1))
    return path


def _sft_source(ledger: Ledger) -> list[str]:
    """A run started with --sft-from says whose SFT policy it fine-tunes."""
    if not ledger.done(SFT_RECORD):
        return []
    record = ledger.result(SFT_RECORD)
    return [f"Started from the SFT policy of `{record['run']}` (`--sft-from`): its {', '.join(record['steps'])} "
            "are that run's.", ""]


def reference_noise_evaluations(workdir: Path, iterations: int) -> list:
    """pi^1..pi^K evaluated at the SFT reference's best noise, those the run has."""
    from recap_lab.report import load_report

    paths = [workdir / "eval" / "reference" / f"iter_{k}.json" for k in range(1, iterations + 1)]
    return [load_report(p) for p in paths if p.exists()]


def _open_run_data(workdir: Path, iterations: int):
    """The run's demonstrations and rollouts as one catalog (None before the demonstrations exist)."""
    from recap_trainer.training.episodes import open_datasets

    data = [workdir / "data" / "demos", *[workdir / "data" / f"rollouts_{k}" for k in range(1, iterations + 1)]]
    existing = [d for d in data if (d / "manifest.json").is_file()]
    return open_datasets(existing) if existing else None


def _value_curves(workdir: Path, cfg: LoopConfig, catalog, path: Path) -> Path | None:
    """V(o_t) of the last value function over sample episodes (a fast and a slow success, a failure,
    a corrected deployment), human interventions shaded."""
    from recap_trainer.labels import Labels
    from recap_lab.report import sample_episodes, value_figure

    labels_dir = workdir / "train" / f"iter_{cfg.iterations}" / "labels"
    if catalog is None or not labels_dir.exists():
        return None
    return value_figure(catalog, Labels.load(labels_dir), sample_episodes(catalog, 4), path,
                        title=f"{cfg.task}: V^{cfg.iterations}(o_t) on sample episodes")


def label_section(workdir: Path, iterations: int, summaries, finetune_positive_fraction: float) -> list[str]:
    """Markdown: the positive fraction of each stage's advantage labels by data source and outcome
    (`summaries`: the run's episodes, anything with episode_id, source, iteration and outcome)."""
    from types import SimpleNamespace

    from recap_trainer.label_breakdown import PHASES, data_source, label_breakdown, phase_breakdown, thin_end
    from recap_trainer.labels import Labels

    grouped = [SimpleNamespace(episode_id=s.episode_id, source=data_source(s), outcome=s.outcome) for s in summaries]
    stages = [(f"pi^{k} (V^{k})" if k >= 0 else "pi_pre (V_pre)", workdir / "train" / name / "labels")
              for k, name in [(-1, "pretrained"), *[(k, f"iter_{k}") for k in range(iterations + 1)]]]
    loaded = [(title, Labels.load(d)) for title, d in stages if (d / "labels.json").is_file()]
    columns = [(title, {(g.source, g.outcome): g for g in label_breakdown(labels, grouped)})
               for title, labels in loaded]
    phases = [(title, phase_breakdown(labels, grouped)) for title, labels in loaded]
    if not columns:
        return ["## Advantage labels", "", "No labels yet."]
    episodes = {key: group.episodes for _, groups in columns for key, group in groups.items()}
    lines = ["## Advantage labels", "",
             "Which steps each policy was trained to take as \"Advantage: positive\" (what it imitates when "
             "deployed conditioned on it): the positive fraction of the labelled steps by data source and outcome. "
             "pi_pre: ~30 % of the demonstrations' steps; pi^0: demonstrations forced positive (SFT); pi^k: "
             f"~{finetune_positive_fraction * 100:.0f} % of the rollouts' steps; the operator's steps are always positive "
             "(a corrected rollout's "
             "steps from the takeover on). Failed episodes whose own steps are mostly positive mean their V "
             "did not see those failures coming.", "",
             "| data | outcome | episodes | " + " | ".join(title for title, _ in columns) + " |",
             "|---|---|---|" + "---|" * len(columns)]
    for source, outcome in sorted(episodes):
        cells = [f"{groups[(source, outcome)].positive_fraction:.0%}" if (source, outcome) in groups else ""
                 for _, groups in columns]
        lines.append(f"| {source} | {outcome} | {episodes[(source, outcome)]} | " + " | ".join(cells) + " |")
    lines += ["", "The same labels by phase: the positive fraction of the successful episodes' steps in each fifth "
              "of their episode. One eps_l for all steps lets the phases whose advantages spread most take the "
              "positive set; a policy with few positive steps where successful episodes end has rarely imitated "
              "how they end.", "",
              "| fifth of the episode | " + " | ".join(title for title, _ in columns) + " |",
              "|---|" + "---|" * len(columns)]
    for i in range(PHASES):
        lines.append(f"| {i + 1} | " + " | ".join(f"{shares[i]:.0%}" if shares else "" for _, shares in phases) + " |")
    thin = [f"- {title}: {warning}" for title, shares in phases if (warning := thin_end(shares))]
    return lines + ([""] + thin if thin else [])


def value_check_section(workdir: Path, iterations: int) -> list[str]:
    """Markdown: each value function's checks (recap_trainer.value_checks) as its labelling ran them,
    or as its training wrote them when it labelled nothing, with a link to its figure."""
    from recap_trainer.value_checks import ValueCheckReport

    lines = ["## Value-function checks", "",
             "Each V scored on the episodes it did not train on (docs/TRAINER.md, \"Value-function checks\"): "
             "ROC AUC of V(o_t) for success vs failure at points of the episode, the calibration error over bins "
             "of V, |V - R_T| at failed episodes' last step, and data sources whose labelled steps are all "
             "positive or all negative.", "",
             "| value function | scored episodes (successes / failures) | AUC at 0% · 25% · 50% · 75% · last "
             "| calibration error | failed-end error | degenerate sources | verdict | figure |",
             "|---|---|---|---|---|---|---|---|"]
    problems = []
    for name, stage in [("V_pre", "pretrained"), *[(f"V^{k}", f"iter_{k}") for k in range(iterations + 1)]]:
        value_dir = workdir / "train" / stage / "value"
        labels_json = workdir / "train" / stage / "labels" / "labels.json"
        data = json.loads(labels_json.read_text()).get("value_checks") if labels_json.is_file() else None
        if data is None and (value_dir / "value_checks.json").is_file():
            data = json.loads((value_dir / "value_checks.json").read_text())
        if data is None:
            lines.append(f"| {name} | not checked | | | | | | |")
            continue
        report = ValueCheckReport.from_dict(data)
        aucs = " · ".join(_number(p.auc) for p in report.separation[:len(report.config.fractions)])
        c = report.calibration
        degenerate = ", ".join(f"{s.source} ({s.positive_fraction:.0%})" for s in report.sources if s.degenerate)
        figure = value_dir / "value_checks.png"
        link = f"[value_checks.png]({figure.relative_to(workdir)})" if figure.is_file() else "none"
        lines.append(f"| {name} | {report.successes} / {report.failures} {report.population} | {aucs} | "
                     f"{_number(c.calibration_error if c else None, '.3f')} | "
                     f"{_number(c.failure_end_error if c else None, '.3f')} | "
                     f"{degenerate or 'none'} | {report.verdict} | {link} |")
        problems += [f"- {name}: {p}" for p in report.problems]
    return lines + (["", *problems] if problems else [])


def _number(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def _scales(cfg: LoopConfig) -> str:
    return ", ".join(f"{v:g}" for v in sorted({cfg.noise_scale, *cfg.reference_noise_scales}))


def _ratio(a: float, b: float) -> str:
    return f"{a:.3g} vs {b:.3g} = {a / b:.2f}x" if b else f"{a:.3g} vs {b:.3g} (baseline is 0)"
