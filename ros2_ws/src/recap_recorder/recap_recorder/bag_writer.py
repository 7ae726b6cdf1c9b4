"""One rosbag2 (MCAP storage, bag version 9) per episode, written from serialized CDR bytes.

Wraps `rosbags.rosbag2.Writer`. Crash safety comes from `flush()`: the pending MCAP chunk is
closed and the file flushed and fsynced, so a SIGKILL leaves a prefix of complete chunks that
`recovery.salvage` turns back into a valid bag. rosbags closes a chunk by itself every ~1 MiB.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys.store import Typestore

BAG_VERSION = 9


class DiskFullError(OSError):
    """The disk filled up while writing; what was written before is still closed cleanly."""


def _is_enospc(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class EpisodeBagWriter:
    """Writes one episode bag at `path` (a directory that must not exist yet).

    `topics` maps topic name -> ROS type name; all connections are created up front so the
    schemas sit in the first chunk (a salvaged prefix always knows its types).
    `writer_factory` is the seam tests use to inject I/O failures.
    """

    def __init__(self, path: Path, topics: Mapping[str, str], typestore: Typestore,
                 writer_factory: Callable[[Path], Writer] | None = None) -> None:
        self.path = Path(path)
        factory = writer_factory or (lambda p: Writer(p, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP))
        self._writer = factory(self.path)
        self._writer.open()
        self._connections = {}
        for topic, msgtype in topics.items():
            msgdef, _ = typestore.generate_msgdef(msgtype, ros_version=2)
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=typestore.hash_rihs01(msgtype))
        self.closed = False

    def write(self, topic: str, timestamp_ns: int, data: bytes | memoryview) -> None:
        """Append one serialized message. Raises DiskFullError on ENOSPC."""
        try:
            self._writer.write(self._connections[topic], timestamp_ns, data)
        except OSError as exc:
            if _is_enospc(exc):
                raise DiskFullError(exc.errno, f"disk full writing {self.path}: {exc}") from exc
            raise

    def flush(self) -> None:
        """Close the pending chunk, flush and fsync: everything written so far survives a crash."""
        storage = self._writer.storage
        if storage is None:
            return
        try:
            # rosbags keeps the open chunk in memory; closing it early bounds crash loss by time.
            if getattr(storage, "chunk", None) is not None and storage.chunk.bio.tell():
                storage.close_chunk()
            bio = getattr(storage, "bio", None)
            if bio is not None:
                bio.flush()
                os.fsync(bio.fileno())
        except OSError as exc:
            if _is_enospc(exc):
                raise DiskFullError(exc.errno, f"disk full flushing {self.path}: {exc}") from exc
            raise

    def close(self, custom_data: Mapping[str, str]) -> None:
        """Write the summary, metadata.yaml (with custom_data) and fsync the bag's files."""
        for key, value in custom_data.items():
            self._writer.set_custom_data(key, value)
        self._writer.close()
        self.closed = True
        fsync_tree(self.path)

    def abort(self) -> None:
        """Give up without a summary (after ENOSPC); the chunks written so far stay on disk."""
        try:
            storage = self._writer.storage
            bio = getattr(storage, "bio", None)
            if bio is not None:
                bio.close()
        except OSError:
            pass  # the disk is full: the file keeps what already reached it
        self._writer.storage = None
        self.closed = True


def fsync_tree(path: Path) -> None:
    """fsync every file in a directory, then the directory itself (so renames are durable)."""
    path = Path(path)
    for f in path.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(path)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
