"""Open a rosbag2 bag of any provenance and stream its serialized messages.

Complete bags (metadata.yaml present) are read with `rosbags` (MCAP or sqlite3). A bag without
metadata.yaml or with a truncated MCAP (a crashed recorder) falls back to reading the .mcap
record by record (every complete chunk is kept) or the .db3 tables directly; each fallback is a
warning naming the file. Types are registered from the definitions stored in the bag, so custom
message types decode without their packages being installed.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from recap_trainer.bags.errors import BagError, warn

SIDECAR = "episode.json"
MAGIC = {".mcap": (b"\x89MCAP0\r\n", "an MCAP file"), ".db3": (b"SQLite format 3\x00", "an SQLite file")}


def _check_magic(path: Path) -> None:
    """An empty file, or a storage file that does not start as its format must, is named as such."""
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise BagError(f"{path}: empty file")
    magic, what = MAGIC.get(path.suffix, (b"", ""))
    if not head.startswith(magic):
        raise BagError(f"{path}: not {what} (starts with {head[:len(magic)]!r})")


class BagSource:
    """One bag: `topics` (topic -> type), `custom_data`, `sidecar` (our episode.json or None),
    `duration_ns` (metadata.yaml's, None without it), `warnings` (text naming file/topic),
    `messages(topics)` yielding (topic, log_time_ns, raw)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self.warnings: list[str] = []
        self.custom_data: dict[str, str] = {}
        self.sidecar: dict[str, Any] | None = None
        self.duration_ns: int | None = None
        self.typestore: Typestore = get_typestore(Stores.ROS2_KILTED)
        self.topics: dict[str, str] = {}
        self._msgdefs: dict[str, str] = {}  # msgtype -> definition text found in the bag
        self._mode = ""
        if not self.path.exists():
            raise BagError(f"{self.name}: no such bag")
        bag_dir = self.path if self.path.is_dir() else self.path.parent
        if (bag_dir / SIDECAR).exists():
            try:
                sidecar = json.loads((bag_dir / SIDECAR).read_text())
            except ValueError as exc:
                self.warn(f"unreadable {SIDECAR} ({exc}); ignoring it")
            else:
                if isinstance(sidecar, dict):
                    self.sidecar = sidecar
                else:
                    self.warn(f"{SIDECAR} holds a JSON {type(sidecar).__name__}, not an object; ignoring it")
        if self.path.is_dir() and (self.path / "metadata.yaml").exists():
            self._open_rosbags()
        else:
            self._open_fallback(bag_dir)
        self._register_types()

    @property
    def complete(self) -> bool:
        """False when read through a fallback (no metadata.yaml, truncated or unreadable index)."""
        return self._mode == "rosbags"

    def warn(self, message: str, topic: str | None = None) -> None:
        self.warnings.append(warn(self.name, message, topic))

    # --- opening ---
    def _open_rosbags(self) -> None:
        try:
            with Reader(self.path) as reader:
                for conn in reader.connections:
                    self.topics[conn.topic] = conn.msgtype
                    if conn.msgdef and conn.msgdef.data:
                        self._msgdefs.setdefault(conn.msgtype, conn.msgdef.data)
            info = yaml.safe_load((self.path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
            self.custom_data = dict(info.get("custom_data") or {})
            self.duration_ns = int((info.get("duration") or {}).get("nanoseconds", 0)) or None
            self._mode = "rosbags"
        except Exception as exc:
            self.warn(f"rosbags cannot open it ({type(exc).__name__}: {exc}); reading the storage file directly")
            self._open_fallback(self.path)

    def _open_fallback(self, bag_dir: Path) -> None:
        if self.path.is_file():
            files = [self.path]
        else:
            files = sorted(bag_dir.glob("*.mcap")) or sorted(bag_dir.glob("*.db3"))
            if not (bag_dir / "metadata.yaml").exists():
                self.warn("no metadata.yaml; reading the storage file directly")
        if not files:
            raise BagError(f"{self.name}: not a rosbag2 directory (no metadata.yaml, .mcap or .db3 file)")
        if len(files) > 1:
            self.warn(f"{len(files)} storage files; only split bags with metadata.yaml are read in full, "
                      f"using {files[0].name}")
        self._file = files[0]
        _check_magic(self._file)
        if self._file.suffix == ".mcap":
            self._mode = "mcap"
            for _topic, _t, _d in self._mcap_records(scan_only=True):
                pass
        elif self._file.suffix == ".db3":
            self._mode = "sqlite"
            self._sqlite_scan()
        else:
            raise BagError(f"{self._file}: not a rosbag2 bag (expected a directory with metadata.yaml, "
                           "a .mcap or a .db3 file)")

    def _sqlite_scan(self) -> None:
        con = sqlite3.connect(f"file:{self._file}?mode=ro", uri=True)
        try:
            for name, msgtype in con.execute("SELECT name, type FROM topics"):
                self.topics[name] = msgtype
            try:
                for msgtype, encoding, text in con.execute(
                        "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions"):
                    if encoding == "ros2msg" and text:
                        self._msgdefs.setdefault(msgtype, text)
            except sqlite3.DatabaseError:
                pass  # bag versions < 8 carry no definitions: standard types still decode
        except sqlite3.DatabaseError as exc:
            raise BagError(f"{self.name}: {self._file.name} is not a readable rosbag2 sqlite3 file: {exc}") from exc
        finally:
            con.close()

    def _mcap_records(self, scan_only: bool = False, wanted: set[str] | None = None):
        from mcap.records import Channel, Message, Schema
        from mcap.stream_reader import StreamReader
        schemas: dict[int, Any] = {}
        channels: dict[int, Any] = {}
        with open(self._file, "rb") as f:
            try:
                for rec in StreamReader(f).records:
                    if isinstance(rec, Schema):
                        schemas[rec.id] = rec
                        if rec.encoding == "ros2msg" and rec.data:
                            self._msgdefs.setdefault(rec.name, rec.data.decode())
                    elif isinstance(rec, Channel):
                        channels[rec.id] = rec
                        schema = schemas.get(rec.schema_id)
                        if schema is not None:
                            self.topics.setdefault(rec.topic, schema.name)
                    elif isinstance(rec, Message) and not scan_only:
                        ch = channels.get(rec.channel_id)
                        if ch is not None and (wanted is None or ch.topic in wanted):
                            yield ch.topic, rec.log_time, rec.data
            except Exception as exc:
                if scan_only:
                    self.warn(f"{self._file.name} is truncated or corrupt ({type(exc).__name__}: {exc}); "
                              "using the complete chunks before that point")

    def _register_types(self) -> None:
        for msgtype, text in self._msgdefs.items():
            if msgtype in self.typestore.types:
                continue
            try:
                self.typestore.register(get_types_from_msg(text, msgtype))
            except Exception as exc:
                self.warn(f"cannot parse the definition of {msgtype}: {exc}")
        for topic, msgtype in list(self.topics.items()):
            if msgtype not in self.typestore.types:
                self.warn(f"unknown message type {msgtype} (no definition in the bag); topic skipped", topic)
                del self.topics[topic]

    # --- reading ---
    def messages(self, topics: set[str]) -> Iterator[tuple[str, int, bytes]]:
        wanted = {t for t in topics if t in self.topics}
        if not wanted:
            return
        if self._mode == "rosbags":
            try:
                with Reader(self.path) as reader:
                    conns = [c for c in reader.connections if c.topic in wanted]
                    for conn, log_time, raw in reader.messages(connections=conns):
                        yield conn.topic, log_time, raw
            except Exception as exc:
                self.warn(f"reading stopped early ({type(exc).__name__}: {exc}); keeping what was read")
        elif self._mode == "mcap":
            yield from self._mcap_records(wanted=wanted)
        else:
            con = sqlite3.connect(f"file:{self._file}?mode=ro", uri=True)
            try:
                ids = {i: n for i, n in con.execute("SELECT id, name FROM topics") if n in wanted}
                marks = ",".join("?" * len(ids))
                for tid, ts, data in con.execute(
                        f"SELECT topic_id, timestamp, data FROM messages WHERE topic_id IN ({marks}) "
                        "ORDER BY timestamp", list(ids)):
                    yield ids[tid], ts, data
            except sqlite3.DatabaseError as exc:
                self.warn(f"reading stopped early: {exc}; keeping what was read")
            finally:
                con.close()

    def deserialize(self, raw: bytes, topic: str) -> Any:
        return self.typestore.deserialize_cdr(raw, self.topics[topic])
