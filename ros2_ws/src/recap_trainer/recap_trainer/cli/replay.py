"""`recap replay BAG --checkpoint CKPT`: a recorded episode through a policy offline, with a report."""
from __future__ import annotations

import json
from pathlib import Path

from recap_trainer.bags.config import DEFAULT_ROBOT


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "replay", help="replay a recorded episode through a policy (and value function) offline",
        description="Run the policy (and, if given or found next to it, the value function) over every step "
        "of a recorded bag, faster than real time. Writes report.json (per-joint error of the proposal vs "
        "the executed and the live-proposed actions, real-time factor), steps.csv (value, advantage), "
        "actions.png (proposed vs recorded per joint) and value.png (V over time, interventions shaded).")
    p.add_argument("bag", type=Path, help="episode bag (directory, .mcap or .db3)")
    p.add_argument("--checkpoint", type=Path, required=True,
                   help="policy checkpoint directory, or an iteration directory with policy/ and value/")
    p.add_argument("--value", type=Path, help="value checkpoint directory (default: <checkpoint>/value if present)")
    p.add_argument("--out", type=Path, help="report directory (default: <bag>.replay)")
    p.add_argument("--task", help="task name to condition on (default: the recorded one)")
    p.add_argument("--advantage", choices=("positive", "negative"), default="positive",
                   help="advantage indicator the policy is conditioned on")
    p.add_argument("--guidance-scale", type=float, default=1.0, help="classifier-free guidance scale beta (1 = none)")
    p.add_argument("--batch-size", type=int, default=64, help="steps scored per forward pass")
    p.add_argument("--n-step", type=int, default=50, help="N of the N-step advantage")
    p.add_argument("--robot", default=DEFAULT_ROBOT, metavar="NAME_OR_FILE",
                   help="robot description the bag was recorded with: a shipped name (aloha, aloha_sim, "
                        "single_arm_6dof) or a YAML file (docs/ROBOTS.md); it gives the topics and the gripper "
                        "calibration")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from recap_trainer.replay import ReplayConfig, replay
    out = args.out or Path(str(args.bag).rstrip("/") + ".replay")
    cfg = ReplayConfig(advantage=args.advantage, guidance_scale=args.guidance_scale, batch_size=args.batch_size,
                       n_step=args.n_step, task=args.task, robot=args.robot)
    report = replay(args.bag, args.checkpoint, out, args.value, cfg)
    print(json.dumps({k: report[k] for k in ("episode_id", "steps", "realtime_factor", "value_checkpoint")}))
    print(f"report in {out}")
    return 0
