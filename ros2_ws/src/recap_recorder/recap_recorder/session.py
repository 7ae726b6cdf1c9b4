"""One episode being recorded: a bounded queue, a writer thread, the bag and the bookkeeping.

DDS callbacks call `submit` (never blocks: a full queue drops and counts). The writer thread
owns the bag: writes, flushes every `flush_interval_s`, reads header stamps for drop
accounting, and deserializes only the small InterventionState / ActionChunk messages for
metadata. On ENOSPC it closes the bag with what was written and keeps draining (discarding).
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from recap_core.stamps import to_ns
from rosbags.typesys.store import Typestore

from .bag_writer import DiskFullError, EpisodeBagWriter
from .config import RecorderConfig
from .drops import DropAccounting
from .metadata import EpisodeMetadata
from .stamps import header_stamp_ns

INTERVENTION_TYPE = "recap_msgs/msg/InterventionState"
CHUNK_TYPE = "recap_msgs/msg/ActionChunk"
_STOP = object()


class InterventionTracker:
    """Takeover count and total human-in-control time from InterventionState stamps."""

    def __init__(self) -> None:
        self.count = 0
        self.duration_ns = 0
        self._since: int | None = None
        self._last_stamp = 0

    def update(self, human: bool, stamp_ns: int) -> None:
        self._last_stamp = max(self._last_stamp, stamp_ns)
        if human and self._since is None:
            self.count += 1
            self._since = stamp_ns
        elif not human and self._since is not None:
            self.duration_ns += max(0, stamp_ns - self._since)
            self._since = None

    def finish(self, end_ns: int) -> float:
        """Total seconds, closing an intervention still open at the end of the episode."""
        total = self.duration_ns
        if self._since is not None:
            total += max(0, max(end_ns, self._last_stamp) - self._since)
        return total / 1e9


class EpisodeSession:
    def __init__(self, config: RecorderConfig, meta: EpisodeMetadata, bag_path: Path,
                 typestore: Typestore, writer_factory: Callable | None = None,
                 log: Callable[[str], None] = print) -> None:
        self.config = config
        self.meta = meta
        self.bag_path = bag_path
        self._typestore = typestore
        self._log = log
        self._types = {t.name: t.msgtype for t in config.topics}
        self._headers = {t.name: t.has_header for t in config.topics}
        self.drops = DropAccounting({t.name: t.rate_hz for t in config.topics}, config.drop_gap_factor)
        self.interventions = InterventionTracker()
        self.disk_full: str = ""
        self.error: str = ""
        self._queue: queue.Queue = queue.Queue(maxsize=config.queue_size)
        self._queued_bytes = 0  # bounded too: 2000 camera frames would be ~1.8 GB
        self._lock = threading.Lock()  # guards the counters the callbacks touch
        self.writer = EpisodeBagWriter(bag_path, self._types, typestore, writer_factory)
        self._thread = threading.Thread(target=self._run, name=f"bag-writer-{meta.episode_id}", daemon=True)
        self._thread.start()

    # --- called from DDS callbacks (any thread): never blocks ---
    def submit(self, topic: str, data: bytes, recv_ns: int) -> bool:
        st = self.drops.topics.get(topic)
        if st is None:
            return False
        with self._lock:
            st.received += 1
            over = self._queued_bytes + len(data) > self.config.queue_max_bytes
            if not over:
                self._queued_bytes += len(data)
        if not over:
            try:
                self._queue.put_nowait((topic, data, recv_ns))
                return True
            except queue.Full:
                pass
        with self._lock:
            st.queue_dropped += 1
            if not over:
                self._queued_bytes -= len(data)
        return False

    def message_lost(self, topic: str, count: int) -> None:
        if topic in self.drops.topics:
            with self._lock:
                self.drops.topics[topic].dds_lost += count

    def detected_drops(self) -> int:
        """Messages known missing from this episode so far (the end-of-episode count, live)."""
        with self._lock:
            return self.drops.total_detected()

    # --- writer thread ---
    def _run(self) -> None:
        next_flush = time.monotonic() + self.config.flush_interval_s
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, next_flush - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            if item is not None:
                with self._lock:
                    self._queued_bytes -= len(item[1])
                self._write(*item)
            if time.monotonic() >= next_flush:
                next_flush = time.monotonic() + self.config.flush_interval_s
                self._guarded(self.writer.flush)

    def _write(self, topic: str, data: bytes, recv_ns: int) -> None:
        if self.writer.closed:
            return  # after ENOSPC: discard, the episode is already cut short
        if not self._guarded(lambda: self.writer.write(topic, recv_ns, data)):
            return
        stamp = header_stamp_ns(data) if self._headers[topic] else None
        self.drops.on_stamp(topic, stamp)
        msgtype = self._types[topic]
        if msgtype in (INTERVENTION_TYPE, CHUNK_TYPE):
            try:
                msg = self._typestore.deserialize_cdr(bytes(data), msgtype)
            except Exception as exc:  # a malformed message must not stop the recording
                self._log(f"episode {self.meta.episode_id}: cannot decode {topic}: {exc}")
                return
            stamp_ns = to_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)
            if msgtype == INTERVENTION_TYPE:
                self.interventions.update(bool(msg.human_in_control), stamp_ns)
            elif msg.policy_id and (not self.meta.policy_ids or self.meta.policy_ids[-1] != msg.policy_id):
                self.meta.policy_ids.append(msg.policy_id)

    def _guarded(self, fn: Callable[[], None]) -> bool:
        """Run a writer operation; ENOSPC closes the bag with what it has and marks the episode."""
        if self.writer.closed:
            return False
        try:
            fn()
            return True
        except DiskFullError as exc:
            self.disk_full = str(exc)
            self._log(f"episode {self.meta.episode_id}: {exc}; closing the bag with what was written")
            self._close_bag(incomplete_reason=f"disk full: {exc}")
            return False

    def _close_bag(self, incomplete_reason: str = "") -> None:
        if incomplete_reason:
            self.meta.complete = False
            self.meta.incomplete_reason = incomplete_reason
        self._fill_stats()
        try:
            self.writer.close(self.meta.custom_data())
        except OSError as exc:  # no room even for the summary: keep the chunks, recover later
            self._log(f"episode {self.meta.episode_id}: closing the bag failed ({exc}); "
                      "left as a partial bag for recap-recover")
            self.meta.complete = False
            self.meta.incomplete_reason = self.meta.incomplete_reason or f"close failed: {exc}"
            self.writer.abort()

    def _fill_stats(self) -> None:
        end = self.meta.end_time_ns or time.time_ns()
        self.meta.intervention_duration_s = self.interventions.finish(end)
        self.meta.intervention_count = self.interventions.count
        with self._lock:
            self.meta.drops = self.drops.summary()
            self.meta.topic_counts = {n: st.written for n, st in self.drops.topics.items()}
            self.meta.detected_drops = self.drops.total_detected()

    def finish(self, timeout: float = 60.0) -> EpisodeMetadata:
        """Drain the queue, close the bag (writing metadata) and return the final metadata."""
        self._queue.put(_STOP)  # blocking put is fine here: this is not a DDS callback
        self._thread.join(timeout)
        if not self.writer.closed:
            self._close_bag()
        else:
            self._fill_stats()
        return self.meta
