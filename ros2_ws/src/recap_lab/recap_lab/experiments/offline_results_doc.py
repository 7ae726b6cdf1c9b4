"""The offline comparison's claims, tables and results document (docs/RESULTS.md)."""

from __future__ import annotations

import json
from pathlib import Path

from recap_lab.plots import plot_throughput_by_seed
from recap_lab.report import load_report, results_table
from recap_lab.stats import Estimate


def claim_checks(summary: dict, row: str = "recap_beta1") -> list[tuple[str, bool]]:
    """The issue's four claims for one RECAP row on point estimates (the CIs are in the table):
    (sentence, holds) for failure <= 0.5x BC, throughput >= 1.5x BC, above filtered BC, above AWR."""
    ev = summary["evaluations"]
    bc, recap = ev["bc"], ev[row]
    who = "RECAP (beta = 1)" if row == "recap_beta1" else row

    def ratio(a: float, b: float) -> str:
        return "n/a (baseline is 0)" if b == 0 else f"{a / b:.2f}x"
    recap_thr = recap["throughput_per_hour"]["value"]
    fail = ratio(recap["failure_rate"]["value"], bc["failure_rate"]["value"])
    thr = ratio(recap["throughput_per_hour"]["value"], bc["throughput_per_hour"]["value"])
    out = [(f"{who} vs plain BC, failure rate: {fail} (claim <= 0.5x",
            recap["failure_rate"]["value"] <= 0.5 * bc["failure_rate"]["value"]),
           (f"{who} vs plain BC, throughput: {thr} (claim >= 1.5x",
            recap_thr > 0 and recap_thr >= 1.5 * bc["throughput_per_hour"]["value"])]
    for other in ("filtered_bc", "awr"):
        a, b = recap["throughput_per_hour"], ev[other]["throughput_per_hour"]
        out.append((f"{who} vs {other}, throughput: {a['value']:.0f} vs {b['value']:.0f} successes/h "
                    f"({'CIs separated' if a['low'] > b['high'] else 'CIs overlap'}; claim RECAP higher",
                    a["value"] > b["value"]))
    return out


def claims(summary: dict, row: str = "recap_beta1") -> list[str]:
    return [f"{text}: {'holds' if holds else 'does NOT hold'})" for text, holds in claim_checks(summary, row)]


def all_claims(summary: dict) -> list[str]:
    """Claims for RECAP with the paper's labels, then for the n-step probe if it ran."""
    probes = [name for name in summary["evaluations"] if name.startswith("recap_nstep")]
    return [line for row in ("recap_beta1", *probes) for line in claims(summary, row)]


def reproduce_command(config: dict, work_dir: Path) -> str:
    """The command line that produces (or resumes) one task's results with its recorded sizes."""
    sizes = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in config.items() if k != "task")
    return f"python -m recap_lab.experiments.offline_comparison --task {config['task']} --work-dir {work_dir} {sizes}"


def labels_text(labels: dict) -> str:
    def one(name: str, info: dict) -> str:
        kind = "Monte Carlo advantages" if name == "recap" else f"{name.removeprefix('recap_nstep')}-step advantages"
        return f"{kind}, eps = {info['threshold']:.4f} ({info['positive_fraction']:.0%} of steps positive)"
    main = one("recap", labels["recap"])
    probes = [f"row {name}: {one(name, info)}" for name, info in labels.items() if name != "recap"]
    return main + "".join(f"; {p}" for p in probes)


def seed_table(work_dirs: list[Path], task: str, figure: Path) -> str:
    """Main rows of one task over training seeds (one work dir per seed, same data and sizes), and
    their throughput as a figure."""
    found = [d for d in work_dirs if (d / task / "summary.json").exists()]
    summaries = [json.loads((d / task / "summary.json").read_text()) for d in found]
    if not summaries:
        raise FileNotFoundError(f"no {task}/summary.json in any of {[str(d) for d in work_dirs]}")
    rows = ["bc", "filtered_bc", "awr", "recap_beta1"] + sorted(
        {name for s in summaries for name in s["evaluations"] if name.startswith("recap_nstep")})
    cell = lambda ev: (f"{ev['success_rate']['value']:.1%} · {ev['throughput_per_hour']['value']:.0f}/h"  # noqa: E731
                       if ev else "-")
    lines = ["| training seed | " + " | ".join(rows) + " | work dir |", "|---" * (len(rows) + 2) + "|"]
    for d, s in zip(found, summaries):
        lines.append(f"| {s['config']['seed']} | " + " | ".join(cell(s["evaluations"].get(r)) for r in rows)
                     + f" | `{d}` |")
    held = []
    for row in rows[3:]:
        ran = [[holds for _, holds in claim_checks(s, row)] for s in summaries if row in s["evaluations"]]
        per_claim = [sum(seed[k] for seed in ran) for k in range(4)]
        held.append(f"{row} holds failure <= 0.5x BC on {per_claim[0]}, throughput >= 1.5x BC on {per_claim[1]}, "
                    f"throughput above filtered BC on {per_claim[2]} and above AWR on {per_claim[3]} of {len(ran)} "
                    f"seeds; all four on {sum(all(seed) for seed in ran)}")
    estimate = lambda ev: Estimate(**{k: ev["throughput_per_hour"][k] for k in ("value", "low", "high")})  # noqa: E731
    plot_throughput_by_seed(rows, [s["config"]["seed"] for s in summaries],
                            [[estimate(s["evaluations"][r]) if r in s["evaluations"] else None for r in rows]
                             for s in summaries], figure, title=f"{task}: throughput by training seed")
    return "\n".join(lines + ["", "Success rate · throughput (successes per hour of sim time), evaluations as "
                             "above. " + "; ".join(held) + "."])


def write_results_doc(work_dir: Path, doc: Path, seed_dirs: list[Path] = ()) -> None:
    """docs/RESULTS.md from every `<work_dir>/<task>/summary.json` (each task keeps its own sizes),
    with a table over training seeds for each task that `seed_dirs` also hold."""
    sections = []
    for path in sorted(work_dir.glob("*/summary.json")):
        summary = json.loads(path.read_text())
        config, task = summary["config"], summary["config"]["task"]
        reports = [load_report(work_dir / task / "evaluations" / f"{name}.json")
                   for name in summary["evaluations"]]
        data = summary["data"]
        wall = summary["wall_time_s"]
        figures = {k: Path(v) for k, v in summary["figures"].items()}
        rel = lambda p: Path(p).relative_to(doc.parent) if Path(p).is_relative_to(doc.parent) else p  # noqa: E731
        seeds_png = figures["comparison"].parent / f"seeds_{task}.png"
        sections.append("\n".join([
            f"## {task}", "",
            f"Produced by `{reproduce_command(config, work_dir)}`.", "",
            f"Data: {data['episodes']} scripted-expert demonstrations ({data['steps']} steps), outcomes "
            f"{data['outcomes']}, profiles {data['profiles']}. Value: {config['value_steps']} steps; every "
            f"policy: {config['policy_steps']} steps x batch {config['batch_size']}, seed {config['seed']}, "
            f"state-only. Labels: {labels_text(summary['labels'])}. Evaluation: "
            f"{config['eval_episodes']} episodes per row, seeds {config['eval_seed']}.., chunks of H = 50 with "
            f"{config['execute_steps']} actions executed per query.", "",
            results_table(reports), "",
            *[f"- {line}" for line in all_claims(summary)], "",
            *([f"### {task} over training seeds", "", seed_table([work_dir, *seed_dirs], task, seeds_png), "",
               f"![throughput by seed]({rel(seeds_png)})", ""]
              if sum((d / task / "summary.json").exists() for d in seed_dirs) else []),
            f"Wall time per stage (s): {', '.join(f'{k} {v}' for k, v in wall.items())}; total "
            f"{sum(wall.values()) / 60:.1f} min on {summary['machine']['summary']}.", "",
            f"![comparison]({rel(figures['comparison'])})", f"![value over time]({rel(figures['value'])})",
            f"![advantages]({rel(figures['advantages'])})", ""]))
    if not sections:
        raise FileNotFoundError(f"{work_dir}: no <task>/summary.json yet; run the experiment first")
    header = doc.read_text().split("<!-- results -->")[0] if doc.exists() else "# Results\n\n"
    doc.write_text(header.rstrip() + "\n\n<!-- results -->\n" + f"Generated from `{work_dir}` by `--write-doc`.\n\n"
                   + "\n".join(sections))
