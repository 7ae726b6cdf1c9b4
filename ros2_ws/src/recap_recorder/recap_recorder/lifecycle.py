"""Episode lifecycle: idle -> recording -> finished (moved into place), plus relabelling.

ROS-free; the node maps services onto `start` / `end` / `relabel` and DDS callbacks onto
`submit`. A finished episode is fsynced and renamed from <out>/.incomplete/<id>/ to <out>/<id>/
(one atomic rename), so a crash never leaves a half-finished episode looking complete.
"""
from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .bag_dir import free_bytes
from .bag_writer import fsync_dir
from .config import RecorderConfig
from .metadata import (EPISODE_ID, OUTCOMES, EpisodeMetadata, read_sidecar, update_bag_custom_data,
                       write_sidecar)
from .msg_types import recap_typestore
from .session import EpisodeSession

INCOMPLETE = ".incomplete"


@dataclass(frozen=True)
class Result:
    accepted: bool
    message: str
    episode_id: str = ""
    bag_path: str = ""


class EpisodeRecorder:
    def __init__(self, config: RecorderConfig, log: Callable[[str], None] = print,
                 writer_factory: Callable | None = None,
                 free_bytes_fn: Callable[[Path], int] = free_bytes) -> None:
        self.config = config
        self.out_dir = Path(config.out_dir)
        (self.out_dir / INCOMPLETE).mkdir(parents=True, exist_ok=True)
        self._log = log
        self._writer_factory = writer_factory
        self._free_bytes = free_bytes_fn
        self._typestore = recap_typestore()
        self._lock = threading.Lock()  # services may run concurrently with each other
        self.session: EpisodeSession | None = None
        self.episodes_recorded = 0  # ended and moved into place since this recorder was made
        # Latched state (intervention, task state) seen between episodes: replayed into the next
        # episode at start, since its publisher will not send it again until it changes.
        self._latched = {t.name for t in config.topics if t.qos == "latched"}
        self._last_latched: dict[str, tuple[bytes, int]] = {}

    @property
    def recording(self) -> bool:
        return self.session is not None

    def new_episode_id(self) -> str:
        return f"{self.config.robot_id}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"

    def start(self, task: str, episode_id: str = "", note: str = "", now_ns: int | None = None) -> Result:
        with self._lock:
            if self.session is not None:
                return Result(False, f"episode {self.session.meta.episode_id} is still recording; end it first")
            if not task:
                return Result(False, "task_prompt is empty")
            episode_id = episode_id or self.new_episode_id()
            if not EPISODE_ID.match(episode_id):
                return Result(False, f"episode id {episode_id!r} must match {EPISODE_ID.pattern}")
            final = self.out_dir / episode_id
            partial = self.out_dir / INCOMPLETE / episode_id
            if final.exists() or partial.exists():
                return Result(False, f"episode {episode_id} already exists under {self.out_dir}")
            free = self._free_bytes(self.out_dir)
            if free < self.config.min_free_bytes:
                return Result(False, f"free disk {free / 1e9:.2f} GB below {self.config.min_free_bytes / 1e9:.2f} GB "
                                     f"on {self.out_dir}; episode refused")
            meta = EpisodeMetadata(episode_id=episode_id, task=task, robot_id=self.config.robot_id,
                                   iteration=self.config.iteration, config_hash=self.config.config_hash(),
                                   start_time_ns=now_ns if now_ns is not None else time.time_ns(), note=note,
                                   robot_description=self.config.robot_description,
                                   robot_description_hash=self.config.robot_description_hash)
            partial.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.session = EpisodeSession(self.config, meta, partial, self._typestore,
                                              self._writer_factory, self._log)
            except OSError as exc:
                shutil.rmtree(partial, ignore_errors=True)
                return Result(False, f"cannot open the bag at {partial}: {exc}")
            # The sidecar exists from the start, saying "incomplete" until the end overwrites it: a
            # salvaged bag still knows its task, and a sidecar that could not be finalised (full
            # disk) never claims a complete episode.
            meta.complete = False
            meta.incomplete_reason = "recording (not ended: crashed, or the final metadata could not be written)"
            write_sidecar(partial, meta)
            meta.complete, meta.incomplete_reason = True, ""
            for topic, (data, recv_ns) in self._last_latched.items():
                self.session.submit(topic, data, recv_ns)
            return Result(True, f"recording to {partial}", episode_id, str(partial))

    def submit(self, topic: str, data: bytes, recv_ns: int) -> None:
        if topic in self._latched:
            self._last_latched[topic] = (data, recv_ns)
        session = self.session
        if session is not None:
            session.submit(topic, data, recv_ns)

    def message_lost(self, topic: str, count: int) -> None:
        session = self.session
        if session is not None:
            session.message_lost(topic, count)

    def end(self, outcome: str, episode_id: str = "", note: str = "", now_ns: int | None = None) -> Result:
        if outcome not in OUTCOMES:
            return Result(False, f"outcome {outcome!r} not in {OUTCOMES}")
        with self._lock:
            session = self.session
            if session is None:
                return Result(False, "no episode is recording")
            if episode_id and episode_id != session.meta.episode_id:
                return Result(False, f"episode {episode_id} is not the one recording ({session.meta.episode_id})")
            session.meta.outcome = outcome
            session.meta.end_time_ns = now_ns if now_ns is not None else time.time_ns()
            if note:
                session.meta.note = f"{session.meta.note}\n{note}".strip()
            self.session = None  # callbacks stop feeding it; the queue is drained in finish()
            meta = session.finish()
            final = self.out_dir / meta.episode_id
            try:
                write_sidecar(session.bag_path, meta)
            except OSError as exc:  # full disk: the start-time sidecar (marked incomplete) stays
                meta.complete = False
                meta.incomplete_reason = meta.incomplete_reason or f"sidecar not written: {exc}"
                self._log(f"episode {meta.episode_id}: cannot write {session.bag_path}/episode.json: {exc}")
                for tmp in session.bag_path.glob("*.tmp"):
                    tmp.unlink(missing_ok=True)
            os.replace(session.bag_path, final)  # atomic: the episode appears complete or not at all
            fsync_dir(self.out_dir)
            fsync_dir(self.out_dir / INCOMPLETE)
            self.episodes_recorded += 1
            msg = f"episode {meta.episode_id} saved to {final}"
            if not meta.complete:
                msg += f" (incomplete: {meta.incomplete_reason})"
            if meta.detected_drops:
                msg += f"; {meta.detected_drops} dropped messages detected"
            self._log(msg)
            for topic, d in meta.drops.items():
                if d["queue_dropped"] or d["dds_lost"] or d["stamp_gaps_missing"]:
                    self._log(f"  {topic}: written {d['written']} of expected {d['expected']}, queue full "
                              f"{d['queue_dropped']}, DDS lost {d['dds_lost']}, stamp gaps {d['stamp_gaps_missing']}")
            return Result(True, msg, meta.episode_id, str(final))

    def relabel(self, episode_id: str, outcome: str, note: str = "") -> Result:
        if outcome not in OUTCOMES:
            return Result(False, f"outcome {outcome!r} not in {OUTCOMES}")
        if not EPISODE_ID.match(episode_id or ""):
            return Result(False, f"episode id {episode_id!r} is not valid")
        bag_dir = self.out_dir / episode_id
        if not bag_dir.is_dir():
            return Result(False, f"no finished episode {episode_id} under {self.out_dir}")
        meta = read_sidecar(bag_dir)
        meta.relabel_history.append({"from": meta.outcome, "to": outcome, "note": note, "time_ns": time.time_ns()})
        meta.outcome = outcome
        if note:
            meta.note = f"{meta.note}\n{note}".strip()
        write_sidecar(bag_dir, meta)
        if (bag_dir / "metadata.yaml").exists():
            update_bag_custom_data(bag_dir, meta)
        return Result(True, f"episode {episode_id} relabelled {meta.relabel_history[-1]['from']} -> {outcome}",
                      episode_id, str(bag_dir))

    def shutdown(self, why: str = "recorder shut down while recording") -> Result | None:
        """The recorder stops (node exit, deactivation) while recording: the episode is ended as
        `abort` with `why` in its note and kept, so nothing is lost. None when none was recording."""
        if self.session is None:
            return None
        return self.end("abort", note=why)
