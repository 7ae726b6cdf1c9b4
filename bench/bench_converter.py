"""Converter benchmark: bags -> RECAP dataset throughput vs plain rosbags reading of the same bags.

    python bench/bench_converter.py [--episodes 4] [--seconds 4] [--cameras 3]

Bags: realistic ALOHA layout (640x480 rgb8 cameras at 50 fps, 4 joint-state topics, executed and
proposed commands, intervention state), MCAP, written with rosbags. Same-run baseline: reading
every message of the same bags with rosbags.rosbag2.Reader (serialized bytes, no decoding).
Target: converter MB/s >= 50% of the plain read MB/s. Memory: peak RSS of a conversion of 1
episode vs all episodes, each in a fresh process (must not grow with the episode count).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "converter"))


def write_bags(root: Path, episodes: int, seconds: float, cameras: int) -> list[Path]:
    from bagfactory import BagSpec, write_rosbags
    cams = ("cam_high", "cam_left_wrist", "cam_right_wrist", "cam_low")[:cameras]
    steps = int(seconds * 50)
    return [write_rosbags(root / f"ep{i}", BagSpec(steps=steps, cameras=cams, hw=(480, 640),
                                                   outcome_event=1 + i % 2)) for i in range(episodes)]


def bag_bytes(bags: list[Path]) -> int:
    return sum(f.stat().st_size for b in bags for f in b.glob("*.mcap"))


def plain_read(bags: list[Path]) -> float:
    from rosbags.rosbag2 import Reader
    t = time.perf_counter()
    n = 0
    for b in bags:
        with Reader(b) as r:
            for _c, _t, raw in r.messages():
                n += len(raw)
    return time.perf_counter() - t


def convert(bags: list[str], out: str, cameras: int) -> None:
    from recap_trainer.bags.build import build_dataset
    from recap_trainer.bags.config import ConverterConfig
    cams = ("cam_high", "cam_left_wrist", "cam_right_wrist", "cam_low")[:cameras]
    report = build_dataset([Path(b) for b in bags], Path(out), ConverterConfig(cameras=cams), progress=False)
    if report.failed:
        raise SystemExit(f"conversion failed: {report.failed}")


def child(args) -> int:
    import recap_trainer.bags.build  # noqa: F401  imports are not conversion time
    t = time.perf_counter()
    convert(args.bags, args.out, args.cameras)
    wall = time.perf_counter() - t
    print(json.dumps({"wall_s": wall, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    return 0


def run_child(bags: list[Path], out: Path, cameras: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", "--out", str(out), "--cameras", str(cameras),
                           "--bags", *map(str, bags)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--seconds", type=float, default=4.0, help="episode length")
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--bags", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="bench_conv_") as tmp:
        root = Path(tmp)
        bags = write_bags(root / "bags", args.episodes, args.seconds, args.cameras)
        size = bag_bytes(bags)
        plain_read(bags)  # warm the page cache: both measurements read from memory
        read_s = plain_read(bags)
        one = run_child(bags[:1], root / "ds1", args.cameras)
        conv = run_child(bags, root / "dsN", args.cameras)
        read_mbs = size / 1e6 / read_s
        conv_mbs = size / 1e6 / conv["wall_s"]
        print(f"bags: {args.episodes} episodes x {args.seconds:.0f} s, {args.cameras} cameras 640x480 rgb8 @ 50 fps, "
              f"{size / 1e6:.0f} MB")
        print(f"plain rosbags read: {read_mbs:8.1f} MB/s  ({read_s:.2f} s)")
        print(f"converter:          {conv_mbs:8.1f} MB/s  ({conv['wall_s']:.2f} s in-process, imports excluded)")
        print(f"ratio converter / plain read: {conv_mbs / read_mbs:.2f} (target >= 0.50)")
        print(f"peak RSS: 1 episode {one['max_rss_mb']:.0f} MB, {args.episodes} episodes {conv['max_rss_mb']:.0f} MB "
              f"(ratio {conv['max_rss_mb'] / one['max_rss_mb']:.2f}; independent of episode count if ~1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
