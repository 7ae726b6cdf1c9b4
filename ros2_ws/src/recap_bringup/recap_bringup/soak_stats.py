"""Endurance figures from a soak run: memory growth per node, dropped messages, lost episodes."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class RssGrowth:
    node: str
    start_mb: float
    end_mb: float
    peak_mb: float
    slope_mb_per_h: float  # least-squares slope after the warm-up


def rss_growth(node: str, times_s: np.ndarray, rss_bytes: np.ndarray, warmup_s: float) -> RssGrowth:
    """RSS trend of one node. The first `warmup_s` are left out of the slope: allocators, imports and
    DDS discovery grow memory at start-up, which is not a leak."""
    t, mb = np.asarray(times_s, float), np.asarray(rss_bytes, float) / 1e6
    if t.size == 0:
        raise ValueError(f"{node}: no RSS samples")
    steady = t >= warmup_s
    slope = float(np.polyfit(t[steady], mb[steady], 1)[0] * 3600.0) if steady.sum() >= 3 else float("nan")
    return RssGrowth(node, float(mb[0]), float(mb[-1]), float(mb.max()), slope)


@dataclass(frozen=True)
class EpisodeAudit:
    episodes: int
    lost: list[str]  # episodes the recorder accepted whose bag is missing or unreadable
    incomplete: int
    dds_lost: int  # messages the middleware reported lost
    queue_dropped: int  # messages the recorder's writer queue had to drop
    stamp_gaps: int  # messages missing according to header stamps and nominal rates
    per_topic_gaps: dict[str, int]


def audit_episodes(bag_paths: list[str]) -> EpisodeAudit:
    """Check every recorded episode's bag and sum the recorder's drop accounting."""
    from mcap.reader import make_reader

    lost, incomplete, dds, queue, gaps = [], 0, 0, 0, 0
    per_topic: dict[str, int] = {}
    for path in map(Path, bag_paths):
        try:
            meta = json.loads((path / "episode.json").read_text())
            (mcap_file,) = path.glob("*.mcap")
            with open(mcap_file, "rb") as stream:
                summary = make_reader(stream).get_summary()
            if summary is None or summary.statistics.message_count == 0:
                raise ValueError("no messages")
        except (OSError, ValueError, json.JSONDecodeError) as error:
            lost.append(f"{path}: {error}")
            continue
        incomplete += not meta.get("complete", True)
        for topic, d in meta.get("drops", {}).items():
            dds += d.get("dds_lost", 0)
            queue += d.get("queue_dropped", 0)
            gaps += d.get("stamp_gaps_missing", 0)
            if d.get("stamp_gaps_missing", 0):
                per_topic[topic] = per_topic.get(topic, 0) + d["stamp_gaps_missing"]
    return EpisodeAudit(len(bag_paths), lost, incomplete, dds, queue, gaps, per_topic)
