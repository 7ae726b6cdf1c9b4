"""Outputs that are checked before the work starts and written so that nothing is lost (ROS-free).

Every command that writes a file checks its output paths first (`check_output_file`,
`check_output_dir`): a run that trains for an hour must not find out at the end that it cannot
write, or silently replace a checkpoint. Writes go to a temporary file in the same directory and
are renamed over the target (`write_bytes_atomic`), so a reader sees the old file or the new one,
never half of one. JSON is strict (`write_json_atomic`: NaN and infinities become null).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class OutputError(ValueError):
    """An output path that cannot or must not be written; the message names it and says why."""


def _writable_parent(path: Path, what: str) -> None:
    """The nearest existing ancestor of `path` must be a writable directory (it is created later)."""
    parent = path.parent
    while not parent.exists():
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{what} {path}: {parent} is not a directory")
    _probe_writable(parent, f"{what} {path}")


def _probe_writable(directory: Path, what: str) -> None:
    """Create and remove a file in `directory`: permission bits alone do not tell (root, read-only
    mounts, pseudo file systems)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise OutputError(f"{what}: {directory} is not writable ({exc.strerror or exc})") from exc


def check_output_file(path: str | os.PathLike, *, overwrite: bool = False, what: str = "output") -> Path:
    """Refuse an output file that exists (unless `overwrite`) or whose directory cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path} is a directory; give a file name")
    if path.exists():
        if not overwrite:
            raise OutputError(f"{what} {path} exists; pass --force to replace it")
        if not os.access(path, os.W_OK):
            raise OutputError(f"{what} {path} exists and is not writable")
    _writable_parent(path, what)
    return path


def check_output_dir(path: str | os.PathLike, *, overwrite: bool = False, what: str = "output directory") -> Path:
    """Refuse an output directory that holds anything (unless `overwrite`) or cannot be created."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise OutputError(f"{what} {path} exists and is not a directory")
        if any(path.iterdir()) and not overwrite:
            raise OutputError(f"{what} {path} is not empty; choose a new directory or pass --force")
        _probe_writable(path, what)
        return path
    _writable_parent(path, what)
    return path


def write_bytes_atomic(path: str | os.PathLike, payload: bytes) -> None:
    """Write `payload` to `path` through a temporary file in the same directory and a rename."""
    path = Path(path)
    descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets what open() would give
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def json_safe(value: Any) -> Any:
    """`value` with NaN and infinities replaced by None and numpy scalars and arrays made plain,
    recursively, so that `json.dumps(..., allow_nan=False)` accepts it (strict JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays and scalars, torch tensors
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_dumps(value: Any, indent: int | None = 2, sort_keys: bool = False) -> str:
    return json.dumps(json_safe(value), indent=indent, sort_keys=sort_keys, allow_nan=False)


def write_json_atomic(path: str | os.PathLike, value: Any, indent: int | None = 2, sort_keys: bool = False) -> None:
    write_text_atomic(path, json_dumps(value, indent, sort_keys) + "\n")
