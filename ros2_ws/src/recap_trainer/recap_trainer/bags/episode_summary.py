"""One line about one episode bag, as the converter will see it: id, task, outcome and where the
outcome comes from, iteration, duration, interventions.

The outcome follows the converter's priority (episode_labels.recorded_outcome). The event topics
(`/episode_events`, `/sim/task_state`) are read only when the sidecar and custom_data lack the
outcome or the task, so listing a recorder's bags never decodes their streams.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.decode import decode_bag
from recap_trainer.bags.episode_labels import custom_fields, episode_id_of, event_task, recorded_outcome
from recap_trainer.bags.source import BagSource

OUTCOME_SOURCES = ("sidecar", "bag metadata", "events", "task state", "none")


@dataclass(frozen=True)
class EpisodeSummary:
    path: str
    episode_id: str | None = None
    task: str | None = None  # None: the converter needs --task
    outcome: str | None = None  # None: the converter skips it unless --missing-outcome
    outcome_source: str = "none"  # one of OUTCOME_SOURCES
    iteration: int | None = None
    duration_s: float | None = None  # None: neither the sidecar nor metadata.yaml records it
    interventions: int | None = None  # None: not recorded in the sidecar / custom_data
    complete: bool | None = None  # False: salvaged after a crash or cut short
    label_source: str | None = None  # "manual" once labelled with `recap episodes label`
    labelled_at: str | None = None
    error: str | None = None  # why the bag cannot be read; the fields above are then None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["warnings"] = list(self.warnings)
        return out


def _optional_int(value) -> int | None:
    return None if value in (None, "", "null") else int(value)


def _duration_s(meta: dict, custom: dict, src: BagSource) -> float | None:
    start = _optional_int(meta.get("start_time_ns", custom.get("start_time_ns")))
    end = _optional_int(meta.get("end_time_ns", custom.get("end_time_ns")))
    if start is not None and end is not None:
        return round((end - start) / 1e9, 3)
    return None if src.duration_ns is None else round(src.duration_ns / 1e9, 3)


def summarize(path: Path, cfg: ConverterConfig | None = None) -> EpisodeSummary:
    """The summary of the bag at `path`; a bag that cannot be read has `error` set (never raises
    for bad bag content)."""
    cfg = cfg or ConverterConfig()
    path = Path(path)
    try:
        src = BagSource(path)
        meta, custom = src.sidecar or {}, custom_fields(src)
        outcome, source = recorded_outcome(meta, custom, [], cfg)
        task = meta.get("task") or custom.get("task")
        if outcome is None or not task:
            topics = {cfg.events_topic, cfg.task_state_topic} & set(src.topics)
            events = decode_bag(src, cfg, topics, {}).events if topics else []
            outcome, source = recorded_outcome(meta, custom, events, cfg)
            task = task or event_task(events, cfg)
        interventions = _optional_int(meta.get("intervention_count", custom.get("intervention_count")))
        return EpisodeSummary(
            path=str(path), episode_id=episode_id_of(meta, custom, path), task=task or None, outcome=outcome,
            outcome_source=source, iteration=int(meta.get("iteration") or custom.get("iteration") or 0),
            duration_s=_duration_s(meta, custom, src), interventions=interventions,
            complete=bool(meta.get("complete", True)) and src.complete, label_source=meta.get("label_source"),
            labelled_at=meta.get("labelled_at"), warnings=tuple(src.warnings))
    except (ValueError, TypeError, OSError) as exc:  # BagError is a ValueError; TypeError: a mistyped field
        message = str(exc)
        return EpisodeSummary(path=str(path), error=message if str(path) in message else f"{path}: {message}")
