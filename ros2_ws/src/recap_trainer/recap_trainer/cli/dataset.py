"""`recap dataset build | export-lerobot | import-hdf5`: bags and HDF5 files to RECAP datasets, and out."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from recap_core.aloha_layout import CAMERA_NAMES


def register(subparsers) -> None:
    parser = subparsers.add_parser("dataset", help="build datasets from bags / HDF5, export to LeRobot",
                                   description="Datasets are derived from bags: build, import, export.")
    sub = parser.add_subparsers(dest="dataset_command", metavar="<action>")

    b = sub.add_parser("build", help="convert rosbag2 bags (MCAP / sqlite3) into a RECAP dataset",
                       description="Convert rosbag2 bags (ours or plain `ros2 bag record` ones, MCAP or sqlite3) "
                       "into a RECAP dataset. Every stream is aligned to the control rate by header stamps; "
                       "steps whose required streams are older than their tolerance are dropped (or flagged). "
                       "Incremental: bags already in the dataset are skipped. A bad bag is reported by name "
                       "and the others still convert (exit code 1 when any failed).")
    b.add_argument("bags", nargs="+", type=Path, help="bag directories / .mcap / .db3 files, or directories of bags")
    b.add_argument("--out", type=Path, required=True, help="dataset directory (created or appended to)")
    b.add_argument("--robot", default="aloha_sim", metavar="NAME|FILE",
                   help="robot description: a shipped one (aloha = the real ALOHA on the Interbotix and RealSense "
                   "drivers, aloha_sim = the simulator and the project's recorder) or a YAML file; it gives the "
                   "joint-state and camera topics, joint names and gripper calibrations (docs/ROBOTS.md; "
                   "default: aloha_sim)")
    b.add_argument("--cameras",
                   help="comma-separated names of the description's cameras to convert (default: all of them); "
                   "'' for state-only")
    b.add_argument("--image-size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"),
                   help="(height, width) every camera frame is resized to (default: 224 224)")
    b.add_argument("--control-period", type=float,
                   help="s between steps (default: 1 / the description's control_rate_hz; 0.02 = 50 Hz for the ALOHAs)")
    b.add_argument("--joint-tolerance", type=float, default=0.05, help="max age (s) of the follower joint states at a step")
    b.add_argument("--image-tolerance", type=float, default=0.1, help="max age (s) of a camera frame at a step")
    b.add_argument("--stale", choices=("drop", "flag"), default="drop",
                   help="what to do with stale steps (an observation stream older than its tolerance, or a "
                   "follower reading that is NaN / inf, lacks joints or lies outside the joint limits)")
    b.add_argument("--min-valid-fraction", type=_fraction, default=0.5, metavar="F",
                   help="refuse an episode when fewer than this share of its steps are not stale, "
                   "in (0, 1] (default 0.5)")
    b.add_argument("--missing-outcome", choices=("skip", "failure", "abort"), default="skip",
                   help="episodes without any recorded outcome: skip them (default) or assume one")
    b.add_argument("--task", help="task for bags that do not record one (plain ros2 bag record)")
    b.add_argument("--source", choices=("demo", "rollout"), help="override demo/rollout detection")
    b.add_argument("--iteration", type=int, help="override the RECAP iteration")
    b.add_argument("--include-incomplete", action="store_true",
                   help="also convert crashed / unfinished episodes under <out>/.incomplete/")
    b.set_defaults(func=_build)

    e = sub.add_parser("export-lerobot", help="export a RECAP dataset as LeRobotDataset v3.0",
                       description="Write a LeRobotDataset v3.0 (parquet + AV1 mp4 + meta/ with per-episode and "
                       "dataset statistics incl. quantiles) that LeRobot 0.6 loads, edits and trains on as is: "
                       "task = the task's instruction, observation.environment_state when recorded, next.reward, "
                       "complementary_info.is_intervention and the recap.* columns (iteration, outcome and, given "
                       "labels, the advantage indicator, advantage and value). See docs/DATASETS.md.")
    e.add_argument("dataset", type=Path, help="RECAP dataset directory (from `recap dataset build`)")
    e.add_argument("--out", type=Path, required=True, help="export directory (new or empty, unless --force)")
    e.add_argument("--force", action="store_true", help="replace the contents of a non-empty --out")
    e.add_argument("--labels", type=Path,
                   help="advantage labels: a `recap label` output directory (indicator, advantage, value), or a "
                   "JSON file {episode_id: [bool per step]} (true = positive; indicator only)")
    e.add_argument("--prompt", action="append", default=[], metavar="TASK=INSTRUCTION",
                   help="the instruction a VLA is prompted with for TASK, e.g. espresso='make an espresso' "
                   "(repeatable; default: the episode's recorded prompt, else the task text)")
    e.add_argument("--repo-id", default="recap/aloha", help="repo_id recorded in meta/recap.json")
    e.add_argument("--fps", type=int, help="frames per second (default: 1 / control_period)")
    e.set_defaults(func=_export)

    h = sub.add_parser("import-hdf5", help="import ALOHA/ACT HDF5 episodes as demonstrations",
                       description="Import ALOHA / ACT episode_*.hdf5 files (/observations/qpos, "
                       "/observations/images/<cam> raw or JPEG-compressed, /action) as demonstrations.")
    h.add_argument("files", nargs="+", type=Path, help="HDF5 files or directories of them")
    h.add_argument("--out", type=Path, required=True, help="dataset directory (created or appended to)")
    h.add_argument("--task", required=True, help="task name (the instruction the policy is conditioned on)")
    h.add_argument("--cameras", default=",".join(CAMERA_NAMES),
                   help="comma-separated cameras to import (default: the three ALOHA cameras); '' for none")
    h.add_argument("--image-size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"),
                   help="(height, width) every camera frame is resized to (default: 224 224)")
    h.add_argument("--control-period", type=float, default=0.02, help="s between the file's steps (default: 0.02 = 50 Hz)")
    h.add_argument("--outcome", choices=("success", "failure", "abort"), default="success",
                   help="ALOHA demos carry no outcome; recorded demos are successes by convention")
    h.add_argument("--gripper-raw", type=float, nargs=2, metavar=("CLOSED", "OPEN"),
                   help="grippers stored as raw readings with these closed/open values "
                   "(default: already normalised to [0, 1], as ACT records them)")
    h.add_argument("--bgr", action="store_true", help="frames are stored BGR (OpenCV order) instead of RGB")
    h.set_defaults(func=_import_hdf5)
    parser.set_defaults(func=lambda a: parser.print_help() or 2)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _totals(per_bag: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for counts in per_bag.values():
        for reason, n in counts.items():
            totals[reason] = totals.get(reason, 0) + n
    return totals


def _print_report(report) -> int:
    for warnings in report.warnings.values():
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
    for origin, err in report.failed.items():
        print(f"FAILED {origin}: {err}", file=sys.stderr)
    print(json.dumps({"converted": len(report.converted), "skipped_already_in_dataset": len(report.skipped),
                      "failed": len(report.failed), "stale_steps": _totals(report.stale_steps),
                      "skipped_messages": _totals(report.skipped_messages)}))
    return 1 if report.failed else 0


def _build(args) -> int:
    from recap_trainer.bags.build import build_dataset, find_bags
    from recap_core.robot_description import load_robot

    from recap_trainer.bags.config import ConverterConfig
    logging.basicConfig(level=logging.ERROR)
    robot = load_robot(args.robot)
    cams = None if args.cameras is None else tuple(c for c in args.cameras.split(",") if c)
    with_images = bool(robot.cameras) if cams is None else bool(cams)
    cfg = ConverterConfig(robot=robot, cameras=cams, image_size=tuple(args.image_size) if with_images else None,
                          control_period=args.control_period or robot.control_period,
                          joint_tolerance_s=args.joint_tolerance, image_tolerance_s=args.image_tolerance,
                          stale_policy=args.stale,
                          missing_outcome=args.missing_outcome, min_valid_fraction=args.min_valid_fraction)
    bags = find_bags(args.bags, include_incomplete=args.include_incomplete)
    if not bags:
        print(f"no bags found in {[str(b) for b in args.bags]}", file=sys.stderr)
        return 1
    report = build_dataset(bags, args.out, cfg, task=args.task, source_kind=args.source, iteration=args.iteration)
    return _print_report(report)


def _export(args) -> int:
    from recap_trainer.lerobot_export import ExportConfig, export_lerobot
    from recap_trainer.lerobot_features import parse_prompt
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    labels = None
    if args.labels:
        labels = json.loads(args.labels.read_text()) if args.labels.is_file() else args.labels
    config = ExportConfig(repo_id=args.repo_id, fps=args.fps, prompts=tuple(parse_prompt(p) for p in args.prompt))
    info = export_lerobot(args.dataset, args.out, labels=labels, config=config, overwrite=args.force)
    print(json.dumps({"episodes": info["total_episodes"], "frames": info["total_frames"], "out": str(args.out)}))
    return 0


def _import_hdf5(args) -> int:
    from recap_trainer.aloha_hdf5 import HDF5ImportConfig, import_hdf5
    cams = tuple(c for c in args.cameras.split(",") if c)
    cfg = HDF5ImportConfig(cameras=cams, image_size=tuple(args.image_size) if cams else None,
                           control_period=args.control_period, outcome=args.outcome,
                           gripper=tuple(args.gripper_raw) if args.gripper_raw else None, bgr=args.bgr)
    report = import_hdf5(args.files, args.out, args.task, cfg)
    return _print_report(report)
