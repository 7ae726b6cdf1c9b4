"""Salvage partial episode bags left by a crash (SIGKILL, power loss) into valid rosbag2 bags.

A killed recorder leaves <out>/.incomplete/<id>/<id>.mcap: header + the complete chunks flushed
so far, no summary and no metadata.yaml. Every complete chunk is read back (schemas and channels
ride in the chunks) and rewritten into a new MCAP bag (version 9) with metadata marking the
episode incomplete and without an outcome. Loss is bounded by the recorder's flush interval.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from .bag_writer import BAG_VERSION, fsync_dir, fsync_tree
from .lifecycle import INCOMPLETE
from .metadata import EpisodeMetadata, read_sidecar, update_bag_custom_data, write_sidecar
from .msg_types import recap_typestore


@dataclass
class SalvageReport:
    source: str
    messages: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    truncated: str = ""  # why reading stopped early (empty: the file ended cleanly)


def _rihs01(msgtype: str, msgdef: str) -> str:
    store = recap_typestore()
    if msgtype in store.types:
        return store.hash_rihs01(msgtype)
    fresh = get_typestore(Stores.EMPTY)
    fresh.register(get_types_from_msg(msgdef, msgtype))
    return fresh.hash_rihs01(msgtype)


def iter_partial_mcap(path: Path, report: SalvageReport):
    """Yield (channel, schema, log_time, data) for every message in the file's complete records."""
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    with open(path, "rb") as f:
        try:
            for record in StreamReader(f, validate_crcs=False).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Message):
                    ch = channels.get(record.channel_id)
                    if ch is None:
                        continue
                    yield ch, schemas.get(ch.schema_id), record.log_time, record.data
        except Exception as exc:  # truncated record: everything before it is intact
            report.truncated = f"{type(exc).__name__} {exc}".strip()


def salvage_mcap(src: Path, dst: Path, custom_data: dict[str, str] | None = None) -> SalvageReport:
    """Rewrite the readable prefix of MCAP file `src` as a complete bag directory `dst`."""
    report = SalvageReport(str(src))
    writer = Writer(dst, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    conns = {}
    try:
        for ch, schema, log_time, data in iter_partial_mcap(src, report):
            if ch.id not in conns:
                if schema is None:
                    continue
                msgdef = schema.data.decode()
                conns[ch.id] = writer.add_connection(ch.topic, schema.name, msgdef=msgdef,
                                                     rihs01=_rihs01(schema.name, msgdef))
            writer.write(conns[ch.id], log_time, data)
            report.messages += 1
            report.per_topic[ch.topic] = report.per_topic.get(ch.topic, 0) + 1
        for key, value in (custom_data or {}).items():
            writer.set_custom_data(key, value)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    fsync_tree(dst)
    return report


class NoMessagesError(ValueError):
    """A partial bag holds no complete message: there is nothing to salvage, and it is kept."""


def recover_episode(partial_dir: Path, out_dir: Path) -> tuple[Path, SalvageReport]:
    """Salvage <out>/.incomplete/<id>/ into <out>/<id>/ (marked incomplete, no outcome). The
    partial directory is removed only once the salvaged bag is in place; a file without one
    complete message is a NoMessagesError and is left untouched."""
    partial_dir = Path(partial_dir)
    mcaps = sorted(partial_dir.glob("*.mcap"))
    if not mcaps:
        raise FileNotFoundError(f"{partial_dir}: no .mcap file to salvage")
    if len(mcaps) > 1:  # one is salvaged and the directory removed: the others would be lost
        raise ValueError(f"{partial_dir}: {len(mcaps)} .mcap files ({', '.join(p.name for p in mcaps)}); "
                         "recap-recover salvages an episode recorded into one file")
    episode_id = partial_dir.name
    try:
        meta = read_sidecar(partial_dir)
    except ValueError:
        meta = EpisodeMetadata(episode_id=episode_id, task="unknown", robot_id="unknown", iteration=0,
                               config_hash="", start_time_ns=0)
    meta.complete = False
    meta.incomplete_reason = meta.incomplete_reason or "recorder crashed; salvaged by recap-recover"
    final = out_dir / episode_id
    in_place = partial_dir.resolve() == final.resolve()  # a finished dir without metadata.yaml (full disk)
    if final.exists() and not in_place:
        raise FileExistsError(f"{final} exists already; not overwriting it with the salvaged {partial_dir}")
    staging = out_dir / INCOMPLETE / f"{episode_id}.salvage"
    shutil.rmtree(staging, ignore_errors=True)
    report = salvage_mcap(mcaps[0], staging)
    if report.messages == 0:  # an empty bag would replace the only copy of whatever the file holds
        shutil.rmtree(staging)
        why = f" (read stopped at: {report.truncated})" if report.truncated else ""
        raise NoMessagesError(f"{mcaps[0]}: no complete message to salvage{why}; {partial_dir} is left as it is")
    meta.topic_counts = dict(report.per_topic)
    if report.truncated:
        meta.incomplete_reason += f"; read stopped at: {report.truncated}"
    write_sidecar(staging, meta)
    update_bag_custom_data(staging, meta)
    if in_place:
        old = out_dir / INCOMPLETE / f"{episode_id}.unsalvaged"
        partial_dir.rename(old)
        staging.rename(final)
        fsync_dir(out_dir)
        shutil.rmtree(old)
        return final, report
    staging.rename(final)
    fsync_dir(out_dir)
    shutil.rmtree(partial_dir)
    return final, report


def partial_episodes(out_dir: Path) -> list[Path]:
    """Crashed episodes (<out>/.incomplete/<id>/) and finished ones whose bag could not be closed
    (<out>/<id>/ with an .mcap but no metadata.yaml, after a full disk)."""
    found = []
    root = out_dir / INCOMPLETE
    if root.is_dir():
        found += [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.endswith((".salvage", ".unsalvaged"))]
    found += [p for p in sorted(out_dir.iterdir()) if p.is_dir() and p.name != INCOMPLETE
              and any(p.glob("*.mcap")) and not (p / "metadata.yaml").exists()]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="recap-recover",
        description="Salvage episodes a crashed recorder left in OUT/.incomplete/ (and finished ones whose "
                    "bag could not be closed on a full disk) into valid rosbag2 bags under OUT/<episode_id>/, "
                    "marked incomplete (episode.json: complete=false; outcome kept if it was recorded). "
                    "Messages after the last flush (recorder flush_interval_s, 1 s by default) are lost.")
    parser.add_argument("out_dir", type=Path, help="the recorder's output directory")
    parser.add_argument("--episode", action="append", default=[], help="only these episode ids (repeatable)")
    args = parser.parse_args(argv)
    if not args.out_dir.is_dir():
        print(f"{args.out_dir}: no such directory", file=sys.stderr)
        return 1
    failures = 0
    candidates = partial_episodes(args.out_dir)
    if not candidates:
        print(f"{args.out_dir}: nothing to recover")
    for partial in candidates:
        if args.episode and partial.name not in args.episode:
            continue
        try:
            final, report = recover_episode(partial, args.out_dir)
        except Exception as exc:
            failures += 1
            print(f"{partial}: cannot salvage: {exc}", file=sys.stderr)
            continue
        note = f" (stopped at {report.truncated})" if report.truncated else ""
        print(f"{partial.name}: salvaged {report.messages} messages into {final}{note}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
