"""The bag directory: checked once when the recorder is configured, and its free space watched.

ROS-free; a recorder that cannot write its episodes should fail at configure with the reason,
not refuse the first episode an operator starts.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


class BagDirError(ValueError):
    """The bag directory cannot take episodes; the message says why and where."""


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def check_bag_dir(path: Path, min_free_bytes: int, free_bytes_fn: Callable[[Path], int] = free_bytes) -> int:
    """Create `path` if needed and check that a file can be written there and that at least
    `min_free_bytes` are free; returns the free bytes. Raises BagDirError naming the problem."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BagDirError(f"bag_dir {path} cannot be created: {exc}") from exc
    try:  # a real write, not os.access: root, read-only mounts and ACLs all answer it truthfully
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise BagDirError(f"bag_dir {path} is not writable: {exc}") from exc
    free = free_bytes_fn(path)
    if free < min_free_bytes:
        raise BagDirError(f"free disk {free / 1e9:.2f} GB below min_free_disk_gb {min_free_bytes / 1e9:.2f} GB "
                          f"on {path}")
    return free
