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


def recorded_outcome(meta: dict, custom: dict, events: list, cfg: ConverterConfig) -> tuple[str | None, str]:
    """(outcome, where it comes from: "sidecar" | "bag metadata" | "events" | "task state" | "none")."""
    if meta.get("outcome"):
        return meta["outcome"], "sidecar"
    if custom.get("outcome") not in (None, "null", ""):
        return custom["outcome"], "bag metadata"
    outcome, source = None, "none"
    for _ns, topic, msg in sorted(events, key=lambda e: e[0]):
        if topic == cfg.events_topic:
            kind = msg.new_outcome if msg.kind == EVENT_RELABEL else msg.kind
            if kind in EVENT_OUTCOMES:
                outcome, source = EVENT_OUTCOMES[kind], "events"
        elif outcome is None and msg.done and msg.outcome in TASK_OUTCOMES:
            outcome, source = TASK_OUTCOMES[msg.outcome], "task state"
    return outcome, source


def event_task(events: list, cfg: ConverterConfig) -> str | None:
    """The last task prompt announced on the episode events."""
    prompts = [msg.task_prompt for _ns, topic, msg in sorted(events, key=lambda e: e[0])
               if topic == cfg.events_topic and msg.task_prompt]
    return prompts[-1] if prompts else None


def custom_fields(src: BagSource) -> dict[str, str]:
    """The bag's custom_data `recap.<key>` values by key."""
    return {k.removeprefix("recap."): v for k, v in src.custom_data.items() if k.startswith("recap.")}


def check_bag_robot(src: BagSource, cfg: ConverterConfig) -> None:
    """BagError naming both when the bag's metadata (sidecar `robot_description_hash`, else custom_data
    `recap.robot_description_hash`) names another robot description than the converter's."""
    meta, custom = src.sidecar or {}, custom_fields(src)
    recorded = meta.get("robot_description_hash") or custom.get("robot_description_hash")
    expected = cfg.robot.description_hash()
    if recorded and recorded != expected:
        name = meta.get("robot_description") or custom.get("robot_description") or "?"
        raise BagError(f"{src.name}: recorded with robot description {name!r} (hash {recorded}); --robot is "
                       f"{cfg.robot.name!r} (hash {expected}); convert it with its own description")


def episode_id_of(meta: dict, custom: dict, path: Path) -> str:
    """The recorded episode id, else the bag's directory or file name."""
    return safe_episode_id(meta.get("episode_id") or custom.get("episode_id")
                           or (path.name if path.is_dir() else path.stem))


def episode_labels(src: BagSource, path: Path, cfg: ConverterConfig, events: list, task: str | None,
                   iteration: int | None) -> EpisodeLabels:
    meta = src.sidecar or {}
    custom = custom_fields(src)
    outcome, _source = recorded_outcome(meta, custom, events, cfg)
    if outcome is None:
        if cfg.missing_outcome == "skip":
            raise BagError(f"{src.name}: episode has no outcome (no episode.json, custom_data, {cfg.events_topic} "
                           f"or {cfg.task_state_topic} outcome); label it with `recap episodes label` "
                           "or pass --missing-outcome")
        src.warn(f"no outcome recorded; using --missing-outcome {cfg.missing_outcome}")
        outcome = cfg.missing_outcome
    task = task or meta.get("task") or custom.get("task") or event_task(events, cfg)
    if not task:
        raise BagError(f"{src.name}: no task (no episode.json / custom_data / episode event); pass --task")
    path = Path(path)
    return EpisodeLabels(
        episode_id=episode_id_of(meta, custom, path),
        task=task, outcome=outcome,
        iteration=iteration if iteration is not None else int(meta.get("iteration") or custom.get("iteration") or 0),
        recorder_config_hash=meta.get("config_hash") or custom.get("config_hash") or "",
        complete=bool(meta.get("complete", True)) and src.complete,
    )
