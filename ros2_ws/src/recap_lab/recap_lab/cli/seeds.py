"""`recap-lab seeds`: one summary over loop runs of several seeds that finished apart (on other
machines, or in other sessions), as `recap-lab loop --seeds` writes for the runs it made itself."""

from __future__ import annotations

import argparse
from pathlib import Path

from recap_core.output_files import check_output_file
from recap_trainer.cli.options import DefaultsHelpFormatter, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "seeds", formatter_class=DefaultsHelpFormatter,
        help="SEEDS.md over finished loop runs of one configuration: every run's ratios and their median",
        description="Summarises finished `recap-lab loop` runs of one configuration and different seeds, "
        "wherever they ran (each seed on its own machine, then copied back): SEEDS.md and seeds.json in --out "
        "list every run's SFT and final policy, their throughput and failure-rate ratios (and against the tuned "
        "SFT reference and the baselines where the runs have them), and each ratio's median, min and max. A run "
        "needs only its config.json and eval/ directory. Runs of different configurations, unfinished runs and "
        "a seed given twice are refused before anything is written.")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR", help="loop run directories (one per seed)")
    p.add_argument("--out", type=Path, required=True, help="directory for SEEDS.md and seeds.json (created)")
    p.add_argument("--force", action="store_true", help="replace SEEDS.md and seeds.json already in --out")
    p.set_defaults(func=_seeds)


def _seeds(a: argparse.Namespace) -> int:
    from recap_lab.self_improvement.seed_summary import check_runs, write_seed_summary

    try:
        check_runs(a.runs)
    except ValueError as error:
        raise UsageError(str(error)) from None
    for name in ("SEEDS.md", "seeds.json"):
        check_output_file(a.out / name, overwrite=a.force, what="summary file")
    a.out.mkdir(parents=True, exist_ok=True)
    path = write_seed_summary(a.out, a.runs)
    print(path.read_text())
    print(f"summary: {path}")
    return 0
