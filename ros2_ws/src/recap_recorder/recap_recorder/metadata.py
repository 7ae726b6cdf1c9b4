"""Episode metadata: the JSON sidecar (`episode.json`) and the bag's custom_data.

The sidecar and metadata.yaml's custom_data are authoritative (relabel rewrites both); the copy
of metadata.yaml embedded in the MCAP file keeps the values at recording time.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from recap_core.output_files import write_text_atomic

SIDECAR = "episode.json"
OUTCOMES = ("success", "failure", "abort")
EPISODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")  # ids name directories and files
CUSTOM_PREFIX = "recap."


@dataclass
class EpisodeMetadata:
    episode_id: str
    task: str
    robot_id: str
    iteration: int
    config_hash: str
    start_time_ns: int
    end_time_ns: int | None = None
    outcome: str | None = None  # None while recording or when salvaged without an outcome
    note: str = ""
    intervention_count: int = 0
    intervention_duration_s: float = 0.0
    policy_ids: list[str] = field(default_factory=list)  # from ActionChunk.policy_id, in order seen
    topic_counts: dict[str, int] = field(default_factory=dict)
    drops: dict[str, dict] = field(default_factory=dict)
    detected_drops: int = 0
    complete: bool = True  # False: salvaged after a crash or cut short by a full disk
    incomplete_reason: str = ""
    relabel_history: list[dict] = field(default_factory=list)
    robot_description: str = ""  # the description's name (recap_core.robot_description)
    robot_description_hash: str = ""  # its description_hash(): the converter checks it against its own

    def __post_init__(self) -> None:
        if not EPISODE_ID.match(self.episode_id):
            raise ValueError(f"episode id {self.episode_id!r} must match {EPISODE_ID.pattern}")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"episode {self.episode_id}: outcome {self.outcome!r} not in {OUTCOMES}")

    @property
    def checkpoint_id(self) -> str:
        return self.policy_ids[-1] if self.policy_ids else ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["checkpoint_id"] = self.checkpoint_id
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "EpisodeMetadata":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def custom_data(self) -> dict[str, str]:
        """rosbag2 custom_data is str -> str: scalars as text, structures as JSON."""
        out = {}
        for key, value in self.to_dict().items():
            out[CUSTOM_PREFIX + key] = value if isinstance(value, str) else json.dumps(value)
        return out


def write_sidecar(bag_dir: Path, meta: EpisodeMetadata) -> None:
    write_text_atomic(Path(bag_dir) / SIDECAR, json.dumps(meta.to_dict(), indent=2, sort_keys=True) + "\n")


def read_sidecar(bag_dir: Path) -> EpisodeMetadata:
    path = Path(bag_dir) / SIDECAR
    try:
        return EpisodeMetadata.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: unreadable episode sidecar: {exc}") from exc


def update_bag_custom_data(bag_dir: Path, meta: EpisodeMetadata) -> None:
    """Rewrite custom_data in metadata.yaml (after a relabel)."""
    path = Path(bag_dir) / "metadata.yaml"
    doc = yaml.safe_load(path.read_text())
    info = doc["rosbag2_bagfile_information"]
    info["custom_data"] = {**(info.get("custom_data") or {}), **meta.custom_data()}
    write_text_atomic(path, yaml.safe_dump(doc, sort_keys=False))
