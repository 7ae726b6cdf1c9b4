"""The dataset's `manifest.json`: its config (and hash), ingested sources, per-episode summaries.

Every dataset records the robot it holds (`config.robot`: the description's name, content hash,
joint names, grippers and limits): its episodes' qpos and actions are (T, D) in that joint order.
`check_robot` refuses to mix another description into it.

The manifest is the only file read to list a dataset, so listing, `len` and `episodes_by_task`
never open an episode file. It is rewritten atomically (temp file + rename) after every append.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from recap_core.output_files import write_json_atomic
from recap_model.robot_layout import RobotLayout, RobotLayoutError, default_layout

FORMAT_VERSION = 2  # 2: the robot block
MANIFEST_NAME = "manifest.json"


class DatasetError(ValueError):
    """A dataset directory is missing, empty, inconsistent, or does not match the expected config."""


@dataclass(frozen=True)
class DatasetConfig:
    """What every episode of one dataset shares; its hash tells incompatible datasets apart."""

    robot: RobotLayout = field(default_factory=default_layout)  # the robot every episode is of
    control_period: float = 0.02  # s between steps (50 Hz)
    cameras: tuple[str, ...] = ()  # camera names every episode must carry (empty: state-only)
    image_size: tuple[int, int] | None = None  # (H, W) of every camera, None when cameras == ()
    extra: dict[str, Any] = field(default_factory=dict)  # producer settings (e.g. converter options)

    def __post_init__(self) -> None:
        if not isinstance(self.robot, RobotLayout):
            raise DatasetError(f"DatasetConfig.robot must be a RobotLayout, got {self.robot!r}")
        if not self.control_period > 0:
            raise DatasetError(f"control_period must be > 0, got {self.control_period}")
        object.__setattr__(self, "cameras", tuple(str(c) for c in self.cameras))
        if len(set(self.cameras)) != len(self.cameras):
            raise DatasetError(f"duplicate camera names in {self.cameras}")
        if self.cameras and self.image_size is None:
            raise DatasetError("image_size (H, W) is required when cameras are given")
        if self.image_size is not None:
            size = tuple(int(v) for v in self.image_size)
            if len(size) != 2 or min(size) <= 0:
                raise DatasetError(f"image_size must be (H, W) > 0, got {self.image_size}")
            object.__setattr__(self, "image_size", size)
        try:
            json.dumps(self.extra, sort_keys=True)
        except (TypeError, ValueError) as error:
            raise DatasetError(f"DatasetConfig.extra is not JSON-serialisable: {error}") from error

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["robot"] = self.robot.to_dict()
        data["cameras"] = list(self.cameras)
        data["image_size"] = None if self.image_size is None else list(self.image_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "dataset config") -> DatasetConfig:
        try:
            robot = RobotLayout.from_dict(data["robot"], where)
        except RobotLayoutError as error:
            raise DatasetError(str(error)) from error
        return cls(robot=robot, control_period=float(data["control_period"]), cameras=tuple(data["cameras"]),
                   image_size=None if data["image_size"] is None else tuple(data["image_size"]),
                   extra=dict(data.get("extra", {})))

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def check_robot(directory: Path, config: DatasetConfig, robot: RobotLayout) -> None:
    """Raise DatasetError naming both descriptions when the dataset in `directory` (its `config`) was
    built from another robot description than `robot`."""
    if config.robot.description_hash != robot.description_hash:
        raise DatasetError(f"{directory}: the dataset holds {config.robot.describe()}; this build uses "
                           f"{robot.describe()}; write to a new directory")


@dataclass(frozen=True)
class EpisodeSummary:
    """One manifest line per episode: enough to select and index without opening the file."""

    episode_id: str
    file: str  # relative to the dataset directory
    task: str
    outcome: str
    source: str
    iteration: int
    num_steps: int
    num_interventions: int  # steps with intervention == True
    duration_s: float  # last timestamp - first timestamp
    state_dim: int | None
    origin: str | None  # where it came from (a bag path, "datagen:<seed>"), None if not given


@dataclass
class Manifest:
    config: DatasetConfig
    episodes: list[EpisodeSummary] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # fully ingested origins (bags, files)

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "config_hash": self.config.hash,
                "config": self.config.to_dict(), "sources": list(self.sources),
                "episodes": [asdict(e) for e in self.episodes]}

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        path = Path(directory) / MANIFEST_NAME
        if not path.is_file():
            raise DatasetError(f"{directory}: not a RECAP dataset (no {MANIFEST_NAME})")
        try:
            data = json.loads(path.read_text())
            if data.get("format_version") != FORMAT_VERSION:
                raise DatasetError(f"{path}: format_version {data.get('format_version')!r}, "
                                   f"this code reads {FORMAT_VERSION}")
            config = DatasetConfig.from_dict(data["config"], str(path))
            if data.get("config_hash") != config.hash:
                raise DatasetError(f"{path}: config_hash does not match its config (edited by hand?)")
            episodes = [EpisodeSummary(**e) for e in data["episodes"]]
            return cls(config=config, episodes=episodes, sources=list(data["sources"]))
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise DatasetError(f"{path}: malformed manifest: {error!r}") from error

    def save(self, directory: Path) -> None:
        write_json_atomic(Path(directory) / MANIFEST_NAME, self.to_dict(), indent=1)
