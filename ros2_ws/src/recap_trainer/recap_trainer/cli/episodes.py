"""`recap episodes list | label`: the recorded episode bags with their outcomes, and labelling
them after the fact (the episode sidecar only, never the bag)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from recap_trainer.cli.options import UsageError
from recap_trainer.episode import OUTCOMES


def register(subparsers) -> None:
    parser = subparsers.add_parser("episodes", help="list episode bags with their outcomes; label them",
                                   description="Recorded episode bags: what the converter will see in them, "
                                   "and their outcome labelled after the fact.")
    sub = parser.add_subparsers(dest="episodes_command", metavar="<action>")

    ls = sub.add_parser("list", help="one line per episode bag: id, task, outcome and where it comes from",
                        description="List episode bags: path, episode id, task, outcome and its source "
                        "(sidecar = episode.json, bag metadata = metadata.yaml custom_data, events = "
                        "/episode_events, task state = /sim/task_state, none = the converter skips it "
                        "unless --missing-outcome), iteration, duration, interventions, then the totals by "
                        "outcome. A bag that cannot be read is listed with the reason (exit code 1).")
    ls.add_argument("bags", nargs="+", type=Path, metavar="BAG_OR_DIR",
                    help="bag directories / .mcap / .db3 files, or directories of bags (a recorder's out dir)")
    ls.add_argument("--json", action="store_true",
                    help="print one JSON object {episodes: [...], totals: {...}} instead of the table")
    ls.add_argument("--include-incomplete", action="store_true",
                    help="also list crashed / unfinished episodes under <out>/.incomplete/")
    ls.set_defaults(func=_list)

    lb = sub.add_parser("label", help="set the outcome of episodes in their episode.json (never the bag)",
                        description="Write the outcome into each bag's episode sidecar (episode.json, next to "
                        "the bag's files), atomically, keeping its other fields, with labelled_at, labelled_by, "
                        "label_source=manual and a relabel_history entry. The bag's own files are never "
                        "touched. Every bag is checked first: if one cannot be labelled, none is.")
    lb.add_argument("bags", nargs="+", type=Path, metavar="BAG", help="episode bag directories / .mcap / .db3 files")
    lb.add_argument("--outcome", required=True, choices=OUTCOMES, help="the episode's outcome")
    lb.add_argument("--force", action="store_true",
                    help="replace an outcome the episode already has (from any source); without it such a "
                    "bag is refused")
    lb.add_argument("--note", default="", help="text appended to the sidecar's note and kept in relabel_history")
    lb.set_defaults(func=_label)
    parser.set_defaults(func=lambda a: parser.print_help() or 2)


def _text(value, fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value)


def _totals(summaries) -> dict[str, int]:
    totals: dict[str, int] = {}
    for s in summaries:
        key = "unreadable" if s.error else (s.outcome or "none")
        totals[key] = totals.get(key, 0) + 1
    return totals


def _print_table(summaries, totals: dict[str, int]) -> None:
    rows = [("OUTCOME", "SOURCE", "ITER", "DURATION", "INTERV", "EPISODE", "TASK", "PATH")]
    for s in summaries:
        if s.error:
            continue
        outcome = (s.outcome or "none") + ("" if s.complete else " (incomplete)")
        rows.append((outcome, s.outcome_source, _text(s.iteration), _text(s.duration_s, "{:.1f}s"),
                     _text(s.interventions), s.episode_id, _text(s.task), s.path))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows if len(rows) > 1 else []:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    for s in summaries:
        if s.error:
            print(f"UNREADABLE {s.path}: {s.error}")
    print(f"{len(summaries)} bags: " + ", ".join(f"{k} {n}" for k, n in sorted(totals.items())))


def _list(args) -> int:
    from tqdm import tqdm

    from recap_trainer.bags.build import find_bags
    from recap_trainer.bags.episode_summary import summarize
    logging.basicConfig(level=logging.ERROR)
    bags = find_bags(args.bags, include_incomplete=args.include_incomplete)
    if not bags:
        raise UsageError(f"no bags found in {', '.join(str(b) for b in args.bags)}")
    summaries = [summarize(bag) for bag in tqdm(bags, desc="bags", unit="bag", disable=None)]
    totals = _totals(summaries)
    if args.json:
        print(json.dumps({"episodes": [s.to_dict() for s in summaries], "totals": totals}, indent=2))
    else:
        _print_table(summaries, totals)
    return 1 if totals.get("unreadable") else 0


def _label(args) -> int:
    from recap_trainer.bags.episode_sidecar import Label, LabelError, plan_labels, write_labels
    logging.basicConfig(level=logging.ERROR)
    try:
        plans = plan_labels(args.bags, Label(args.outcome, note=args.note, force=args.force))
    except LabelError as error:
        raise UsageError(str(error)) from None
    write_labels(plans)
    for plan in plans:
        if plan.old_outcome is None:
            change = f"none -> {args.outcome}"
        elif plan.old_outcome == args.outcome:
            change = f"{args.outcome} (unchanged, was from {plan.old_source})"
        else:
            change = f"{plan.old_outcome} -> {args.outcome} (was from {plan.old_source})"
        print(f"{plan.bag}: {change}; wrote {plan.sidecar_path}")
    return 0
