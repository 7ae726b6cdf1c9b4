"""`recap-lab report`: figures and a results table from a value function, labels and evaluations."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recap_core.output_files import check_output_file, write_text_atomic
from recap_trainer.cli.options import DefaultsHelpFormatter, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", formatter_class=DefaultsHelpFormatter,
        help="plots: value over time, advantage histograms with eps, method comparison; markdown table",
        description="With --data and --labels (from `recap label`): V(o_t) over time for sample episodes (human "
        "interventions shaded) and one advantage histogram per task with eps_l marked. With --evaluations "
        "(JSON from `recap-lab evaluate --out`): a success / throughput bar chart and report.md with the table. "
        "Everything goes to --out.")
    p.add_argument("--out", type=Path, required=True, help="directory for the PNGs and report.md")
    p.add_argument("--data", type=Path, nargs="*", default=[], help="dataset directories the labels were made on")
    p.add_argument("--labels", type=Path, help="labels directory from `recap label`")
    p.add_argument("--episodes", nargs="*", default=[],
                   help="episode ids for the value plot (default: fastest / slowest success, a failure, "
                   "an episode with an intervention)")
    p.add_argument("--evaluations", type=Path, nargs="*", default=[], help="evaluation JSON files to compare")
    p.add_argument("--force", action="store_true", help="replace figures and report.md already in --out")
    p.set_defaults(func=_report)


def _report(a: argparse.Namespace) -> int:
    from recap_trainer.labels import Labels
    from recap_lab.plots import plot_method_comparison
    from recap_lab.report import (
        COMPARISON_FIGURE, TABLE, VALUE_FIGURE, advantage_figures, load_report, report_files, results_table,
        sample_episodes, value_figure,
    )
    from recap_trainer.training.episodes import open_datasets

    if not a.labels and not a.evaluations:
        raise UsageError("nothing to do; give --data with --labels, and/or --evaluations")
    if bool(a.labels) != bool(a.data):
        raise UsageError("--labels and --data go together (the labels of that data)")
    labels = Labels.load(a.labels) if a.labels else None
    reports = [load_report(path) for path in a.evaluations]
    targets = [a.out / name for name in report_files(labels, bool(reports))]
    for path in targets:  # every file is checked before the first figure is drawn
        check_output_file(path, overwrite=a.force, what="report file")
    written: dict[str, str] = {}
    a.out.mkdir(parents=True, exist_ok=True)
    if labels is not None:
        catalog = open_datasets(a.data)
        episodes = a.episodes or sample_episodes(catalog)
        written["value"] = str(value_figure(catalog, labels, episodes, a.out / VALUE_FIGURE))
        written |= {f"advantages_{task}": str(path) for task, path in advantage_figures(catalog, labels, a.out).items()}
    if reports:
        written["comparison"] = str(plot_method_comparison(
            [r.label for r in reports], [r.success_rate for r in reports], [r.throughput_per_hour for r in reports],
            a.out / COMPARISON_FIGURE))
        write_text_atomic(a.out / TABLE, results_table(reports) + "\n")
        written["table"] = str(a.out / TABLE)
        print(results_table(reports))
    print(json.dumps(written, indent=2))
    return 0

