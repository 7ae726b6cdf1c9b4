"""Import ALOHA / ACT `episode_*.hdf5` recordings as RECAP demonstrations.

Expected keys: /observations/qpos (T, 14), /observations/images/<cam> either raw (T, H, W, 3)
uint8 or JPEG-compressed (T, L) uint8 rows padded to L (root attr `compress` true; lengths in
/compress_len when present), /action (T, 14). The 14-D order is ALOHA's (left 6 + gripper,
right 6 + gripper), the state vector of the shipped `aloha` robot description, which the dataset
records. ACT stores grippers already normalised to [0, 1]; raw readings are normalised with
`gripper=(closed, open)`. A file with a qpos or action outside the description's joint limits
(plus a margin: `JointRange`) is refused naming the step and joint.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np
from recap_core.aloha_layout import CAMERA_NAMES
from recap_core.robot_description import load_robot
from recap_model.images import resize_to_model
from recap_model.robot_layout import RobotLayout
from tqdm import tqdm

from recap_trainer.bags.build import BuildReport
from recap_trainer.dataset import (DatasetConfig, DatasetError, DatasetWriter, EpisodeData, EpisodeError,
                                   check_dataset_output)
from recap_trainer.episode import JointRange


ROBOT = "aloha"  # the robot description ALOHA / ACT recordings are of


def aloha_layout() -> RobotLayout:
    return RobotLayout.from_description(load_robot(ROBOT))


class HDF5Error(ValueError):
    """An HDF5 file cannot be imported; the message names the file and the key."""


@dataclass(frozen=True)
class HDF5ImportConfig:
    cameras: tuple[str, ...] = CAMERA_NAMES
    image_size: tuple[int, int] | None = (224, 224)
    control_period: float = 0.02
    outcome: str = "success"
    gripper: tuple[float, float] | None = None  # raw (closed, open); None = already normalised
    bgr: bool = False  # frames stored BGR (OpenCV capture order) instead of RGB

    def __post_init__(self) -> None:
        if self.cameras and self.image_size is None:
            raise ValueError("image_size is required with cameras")
        if self.outcome not in ("success", "failure", "abort"):
            raise ValueError(f"outcome must be success|failure|abort, got {self.outcome!r}")
        if self.control_period <= 0:
            raise ValueError("control_period must be > 0")


def _dataset(f: h5py.File, key: str, path: Path) -> h5py.Dataset:
    if key not in f:
        raise HDF5Error(f"{path}: missing key {key} (has: {sorted(_keys(f))})")
    return f[key]


def _keys(f: h5py.File) -> list[str]:
    out: list[str] = []
    f.visititems(lambda name, obj: out.append("/" + name) if isinstance(obj, h5py.Dataset) else None)
    return out


def _frames(f: h5py.File, cam: str, path: Path, cfg: HDF5ImportConfig, steps: int) -> np.ndarray:
    ds = _dataset(f, f"/observations/images/{cam}", path)
    compressed = bool(f.attrs.get("compress", False)) or ds.ndim == 2
    out = np.empty((steps, *cfg.image_size, 3), np.uint8)
    lengths = None
    if compressed and "compress_len" in f:
        cams = [c for c in f["/observations/images"].keys()]
        lengths = f["compress_len"][cams.index(cam)] if f["compress_len"].ndim == 2 else None
    for t in range(steps):
        if compressed:
            row = ds[t]
            if lengths is not None:
                row = row[: int(lengths[t])]
            img = cv2.imdecode(np.asarray(row, np.uint8), cv2.IMREAD_COLOR)
            if img is None:
                raise HDF5Error(f"{path}: /observations/images/{cam}: frame {t} is not a decodable JPEG")
            img = img if cfg.bgr else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)  # imdecode gives BGR
        else:
            img = np.asarray(ds[t])
            if img.ndim != 3 or img.shape[2] != 3:
                raise HDF5Error(f"{path}: /observations/images/{cam}: frames are {img.shape}, expected (H, W, 3)")
            if cfg.bgr:
                img = img[:, :, ::-1]
        out[t] = resize_to_model(np.ascontiguousarray(img), cfg.image_size)
    return out


def read_hdf5_episode(path: str | Path, task: str, cfg: HDF5ImportConfig) -> EpisodeData:
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise HDF5Error(f"{path}: not a readable HDF5 file: {exc}") from exc
    robot = aloha_layout()
    with f:
        qpos = np.asarray(_dataset(f, "/observations/qpos", path), np.float64)
        action = np.asarray(_dataset(f, "/action", path), np.float64)
        for key, arr in (("/observations/qpos", qpos), ("/action", action)):
            if arr.ndim != 2 or arr.shape[1] != robot.action_dim:
                raise HDF5Error(f"{path}: {key} has shape {arr.shape}, expected (T, {robot.action_dim}) ALOHA joints")
        if len(qpos) != len(action):
            raise HDF5Error(f"{path}: /observations/qpos has {len(qpos)} steps but /action has {len(action)}")
        steps = len(qpos)
        images = {cam: _frames(f, cam, path, cfg, steps) for cam in cfg.cameras}
    if cfg.gripper is not None:
        closed, opened = cfg.gripper
        for col in robot.gripper_indices:
            qpos[:, col] = (qpos[:, col] - closed) / (opened - closed)
            action[:, col] = (action[:, col] - closed) / (opened - closed)
    for key, arr in (("/observations/qpos", qpos), ("/action", action)):
        try:  # values in other units (degrees, raw encoder ticks) refuse the whole file
            if np.isfinite(arr).all():  # NaN / inf are named by EpisodeData below
                JointRange(robot).check(str(path), key, arr)
        except EpisodeError as exc:
            raise HDF5Error(str(exc)) from exc
    episode_id = re.sub(r"[^A-Za-z0-9._-]", "_", f"hdf5-{path.parent.name}-{path.stem}").lstrip("._-")
    try:
        return EpisodeData(
            episode_id=episode_id, task=task, outcome=cfg.outcome, source="demo", iteration=0,
            timestamps=np.arange(steps) * cfg.control_period, qpos=qpos, env_state=None, images=images,
            executed_action=action, proposed_action=np.full_like(action, np.nan),
            intervention=np.zeros(steps, bool), metadata={"hdf5": str(path.resolve())})
    except EpisodeError as exc:
        raise HDF5Error(f"{path}: {exc}") from exc


def find_hdf5(paths: list[Path]) -> list[Path]:
    out = []
    for p in map(Path, paths):
        out += sorted(p.rglob("*.hdf5")) + sorted(p.rglob("*.h5")) if p.is_dir() else [p]
    return out


def import_hdf5(paths: list[Path], out: Path, task: str, cfg: HDF5ImportConfig) -> BuildReport:
    """Append every file's episode to the dataset at `out`; bad files are reported, not fatal.
    An import that adds nothing to a new dataset leaves nothing behind."""
    check_dataset_output(out)
    writer = DatasetWriter(out, DatasetConfig(robot=aloha_layout(), control_period=cfg.control_period, cameras=cfg.cameras,
                                              image_size=cfg.image_size if cfg.cameras else None,
                                              extra={"hdf5_import": {"bgr": cfg.bgr, "gripper": cfg.gripper}}))
    report = BuildReport()
    try:
        for path in tqdm(find_hdf5(paths), desc="hdf5", unit="file"):
            origin = str(Path(path).resolve())
            if writer.is_ingested(origin):
                report.skipped.append(origin)
                continue
            try:
                writer.append(read_hdf5_episode(path, task, cfg), origin=origin)
                writer.mark_ingested(origin)
                report.converted.append(origin)
            except (HDF5Error, DatasetError, EpisodeError, OSError) as exc:
                report.failed[origin] = str(exc)
    finally:
        writer.remove_if_unused()
    return report
