"""`recap report`: figures and a results table from a value function, labels and evaluations."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="plots: value over time, advantage histograms with eps, method comparison; markdown table",
        description="With --data and --labels (from `recap label`): V(o_t) over time for sample episodes (human "
        "interventions shaded) and one advantage histogram per task with eps_l marked. With --evaluations "
        "(JSON from `recap evaluate --out`): a success / throughput bar chart and report.md with the table. "
        "Everything goes to --out.")
    p.add_argument("--out", type=Path, required=True, help="directory for the PNGs and report.md")
    p.add_argument("--data", type=Path, nargs="*", default=[], help="dataset directories the labels were made on")
    p.add_argument("--labels", type=Path, help="labels directory from `recap label`")
    p.add_argument("--episodes", nargs="*", default=[],
                   help="episode ids for the value plot (default: fastest / slowest success, a failure, "
                   "an episode with an intervention)")
    p.add_argument("--evaluations", type=Path, nargs="*", default=[], help="evaluation JSON files to compare")
    p.set_defaults(func=_report)


def _report(a: argparse.Namespace) -> int:
    from recap_trainer.labels import Labels
    from recap_trainer.plots import plot_method_comparison
    from recap_trainer.report import advantage_figures, load_report, results_table, sample_episodes, value_figure
    from recap_trainer.training.episodes import open_datasets

    if not a.labels and not a.evaluations:
        raise SystemExit("recap report: nothing to do; give --data with --labels, and/or --evaluations")
    if bool(a.labels) != bool(a.data):
        raise SystemExit("recap report: --labels and --data go together (the labels of that data)")
    written: dict[str, str] = {}
    a.out.mkdir(parents=True, exist_ok=True)
    if a.labels:
        catalog, labels = open_datasets(a.data), Labels.load(a.labels)
        episodes = a.episodes or sample_episodes(catalog)
        written["value"] = str(value_figure(catalog, labels, episodes, a.out / "value_over_time.png"))
        written |= {f"advantages_{task}": str(path) for task, path in advantage_figures(catalog, labels, a.out).items()}
    if a.evaluations:
        reports = [load_report(path) for path in a.evaluations]
        written["comparison"] = str(plot_method_comparison(
            [r.label for r in reports], [r.success_rate for r in reports], [r.throughput_per_hour for r in reports],
            a.out / "comparison.png"))
        (a.out / "report.md").write_text(results_table(reports) + "\n")
        written["table"] = str(a.out / "report.md")
        print(results_table(reports))
    print(json.dumps(written, indent=2))
    return 0
