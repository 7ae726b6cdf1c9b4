"""What an episode is about: outcome, task, id, iteration, from whatever the bag carries.

Priority: our sidecar `episode.json` (authoritative, relabels included), the bag's custom_data
(`recap.*`), then the recorded topics: the last outcome on `/episode_events` (RELABEL honoured),
else a finished `/sim/task_state`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.errors import BagError
from recap_trainer.bags.source import BagSource

EVENT_OUTCOMES = {1: "success", 2: "failure", 3: "abort"}  # EpisodeEvent kinds / new_outcome
EVENT_RELABEL = 4
TASK_OUTCOMES = {1: "success", 2: "failure"}  # TaskState.outcome


@dataclass(frozen=True)
class EpisodeLabels:
    episode_id: str
    task: str
    outcome: str
    iteration: int
    recorder_config_hash: str
    complete: bool


def safe_episode_id(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip("._-")
    return cleaned[:200] or "episode"


def episode_labels(src: BagSource, path: Path, cfg: ConverterConfig, events: list, task: str | None,
                   iteration: int | None) -> EpisodeLabels:
    meta = src.sidecar or {}
    custom = {k.removeprefix("recap."): v for k, v in src.custom_data.items() if k.startswith("recap.")}
    stored = meta.get("outcome") or (custom.get("outcome") if custom.get("outcome") not in ("null", "") else None)
    from_topics, event_task = None, None
    for _ns, topic, msg in sorted(events, key=lambda e: e[0]):
        if topic == cfg.events_topic:
            event_task = msg.task_prompt or event_task
            kind = msg.new_outcome if msg.kind == EVENT_RELABEL else msg.kind
            from_topics = EVENT_OUTCOMES.get(kind, from_topics)
        elif from_topics is None and msg.done and msg.outcome in TASK_OUTCOMES:
            from_topics = TASK_OUTCOMES[msg.outcome]
    outcome = stored or from_topics
    if outcome is None:
        if cfg.missing_outcome == "skip":
            raise BagError(f"{src.name}: episode has no outcome (no episode.json, custom_data, {cfg.events_topic} "
                           f"or {cfg.task_state_topic} outcome); relabel it or pass --missing-outcome")
        src.warn(f"no outcome recorded; using --missing-outcome {cfg.missing_outcome}")
        outcome = cfg.missing_outcome
    task = task or meta.get("task") or custom.get("task") or event_task
    if not task:
        raise BagError(f"{src.name}: no task (no episode.json / custom_data / episode event); pass --task")
    path = Path(path)
    return EpisodeLabels(
        episode_id=safe_episode_id(meta.get("episode_id") or custom.get("episode_id")
                                   or (path.name if path.is_dir() else path.stem)),
        task=task, outcome=outcome,
        iteration=iteration if iteration is not None else int(meta.get("iteration") or custom.get("iteration") or 0),
        recorder_config_hash=meta.get("config_hash") or custom.get("config_hash") or "",
        complete=bool(meta.get("complete", True)) and src.complete,
    )
