"""Labelling episodes after the fact: the outcome goes into the episode sidecar `episode.json`.

The sidecar is the converter's first source of outcome, so a label written here is what the next
`recap dataset build` uses. Only the sidecar is written (atomically, every other field kept); the
bag's own files (storage files, metadata.yaml) are never touched. Every bag of a batch is checked
before any sidecar is written: one bad path leaves all of them as they were.
"""
from __future__ import annotations

import getpass
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from recap_core.output_files import OutputError, check_output_file, write_json_atomic
from recap_trainer.bags.build import find_bags
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.errors import BagError
from recap_trainer.bags.episode_summary import summarize
from recap_trainer.bags.source import SIDECAR
from recap_trainer.episode import OUTCOMES

LABEL_SOURCE = "manual"
STORAGE_SUFFIXES = (".mcap", ".db3")


class LabelError(ValueError):
    """One or more bags cannot be labelled; the message names each of them and nothing was written."""


@dataclass(frozen=True)
class Label:
    """What an operator decided about one episode."""

    outcome: str  # one of OUTCOMES
    note: str = ""  # appended to the sidecar's note
    force: bool = False  # replace an outcome the episode already has

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {'|'.join(OUTCOMES)}, got {self.outcome!r}")


@dataclass(frozen=True)
class LabelPlan:
    """One checked bag: the sidecar to write and the outcome change it makes."""

    bag: Path
    sidecar_path: Path
    old_outcome: str | None
    old_source: str  # where old_outcome comes from (episode_summary.OUTCOME_SOURCES)
    sidecar: dict[str, Any]  # the full content to write


def sidecar_path(bag: Path) -> Path:
    """Where the converter reads the bag's sidecar: in the bag directory, or beside a bare storage
    file. A bare file whose directory holds other bags is refused: the sidecar would label them too."""
    if bag.is_dir():
        return bag / SIDECAR
    directory = bag.parent
    others = sorted(f.name for f in directory.iterdir()
                    if f.suffix in STORAGE_SUFFIXES and f.name != bag.name)
    if others and not (directory / "metadata.yaml").exists():
        raise BagError(f"{bag}: {directory} also holds {', '.join(others)}; an {SIDECAR} there would label "
                       "them all. Move the bag into a directory of its own")
    return directory / SIDECAR


def read_sidecar(path: Path) -> dict[str, Any]:
    """The existing sidecar's fields ({} when there is none). One that cannot be parsed is refused,
    never replaced: it may hold the recorder's metadata."""
    if not path.exists():
        return {}
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BagError(f"{path}: unreadable episode sidecar ({exc}); fix or move it before labelling") from exc
    if not isinstance(content, dict):
        raise BagError(f"{path}: episode sidecar holds a JSON {type(content).__name__}, not an object; "
                       "fix or move it before labelling")
    return content


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment or the password database
        return ""


def labelled(sidecar: dict[str, Any], old_outcome: str | None, label: Label) -> dict[str, Any]:
    """`sidecar` with the label applied: outcome, who and when, the note, one more relabel_history
    entry (the recorder's keys, plus `source`). Every other field is kept."""
    out = dict(sidecar)
    out["outcome"] = label.outcome
    out["label_source"] = LABEL_SOURCE
    out["labelled_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out["labelled_by"] = _user()
    if label.note:
        out["note"] = f"{out.get('note') or ''}\n{label.note}".strip()
    history = list(out.get("relabel_history") or [])
    history.append({"from": old_outcome, "to": label.outcome, "note": label.note, "time_ns": time.time_ns(),
                    "source": LABEL_SOURCE})
    out["relabel_history"] = history
    return out


def _plan(bag: Path, label: Label, cfg: ConverterConfig) -> LabelPlan:
    found = find_bags([bag])
    if not found:
        raise BagError(f"{bag}: not an episode bag (no metadata.yaml, .mcap or .db3 file)")
    if found != [bag]:
        raise BagError(f"{bag}: a directory of {len(found)} bags, not one episode; name the bags "
                       "(`recap episodes list` shows them)")
    summary = summarize(bag, cfg)
    if summary.error:
        raise BagError(summary.error)
    path = sidecar_path(bag)
    existing = read_sidecar(path)
    old = summary.outcome
    if old is not None and old != label.outcome and not label.force:
        raise BagError(f"{bag}: episode {summary.episode_id} already has outcome {old} (from "
                       f"{summary.outcome_source}); pass --force to relabel it {old} -> {label.outcome}")
    check_output_file(path, overwrite=True, what=f"{bag}: episode sidecar")
    return LabelPlan(bag, path, old, summary.outcome_source, labelled(existing, old, label))


def plan_labels(bags: list[Path], label: Label, cfg: ConverterConfig | None = None) -> list[LabelPlan]:
    """Check every bag and prepare its sidecar; LabelError naming every bad bag, before any write."""
    cfg = cfg or ConverterConfig()
    plans: dict[Path, LabelPlan] = {}
    problems = []
    for bag in bags:
        bag = Path(bag)
        try:
            plan = _plan(bag, label, cfg)
        except (BagError, OutputError, OSError) as exc:
            problems.append(str(exc))
            continue
        plans.setdefault(plan.sidecar_path.resolve(), plan)  # a bag named twice is labelled once
    if problems:
        raise LabelError("nothing labelled: " + "; ".join(problems))
    return list(plans.values())


def write_labels(plans: list[LabelPlan]) -> None:
    for plan in plans:
        write_json_atomic(plan.sidecar_path, plan.sidecar, indent=2, sort_keys=True)
