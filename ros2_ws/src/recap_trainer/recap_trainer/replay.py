"""Offline replay of a recorded episode through a policy (and value function) for debugging.

For every step t of the bag (aligned as the converter does), the policy proposes a chunk from the
recorded observation o_t; its first row is compared with what was executed and with what the live
policy proposed then. With a value checkpoint, V(o_t) over time (interventions shaded) and the
per-step N-step advantage A_t (RECAP Eq. 5 rewards from the outcome) are reported. The bag is read
as the converter reads it: commands the arbitration node refused are skipped, bad follower
readings make their steps stale (kept and flagged here).
Outputs in --out: report.json, steps.csv, actions.png, value.png. Runs batched, faster than real time.
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from recap_core.output_files import write_json_atomic  # noqa: E402
from tqdm import tqdm  # noqa: E402

from recap_core.robot_description import load_robot  # noqa: E402
from recap_trainer.bags.config import DEFAULT_ROBOT, ConverterConfig  # noqa: E402
from recap_trainer.bags.episode_builder import EpisodeBuilder  # noqa: E402


@dataclass(frozen=True)
class ReplayConfig:
    advantage: str = "positive"
    guidance_scale: float = 1.0
    batch_size: int = 64
    n_step: int = 50  # N of the N-step advantage (RECAP fine-tuning default)
    task: str | None = None  # override the recorded task (the policy's task vocabulary)
    robot: str = DEFAULT_ROBOT  # the robot description the bag was recorded with (name or YAML path)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.n_step < 1:
            raise ValueError("batch_size and n_step must be >= 1")


def resolve_checkpoints(checkpoint: Path, value: Path | None) -> tuple[Path, Path | None]:
    """A policy checkpoint dir, or an iteration dir holding policy/ (and value/)."""
    checkpoint = Path(checkpoint)
    if (checkpoint / "policy").is_dir():
        return checkpoint / "policy", value or ((checkpoint / "value") if (checkpoint / "value").is_dir() else None)
    return checkpoint, value


def replay(bag: Path, checkpoint: Path, out: Path, value_checkpoint: Path | None = None,
           cfg: ReplayConfig | None = None) -> dict:
    cfg = cfg or ReplayConfig()
    from recap_model.policy import load_policy
    policy_dir, value_dir = resolve_checkpoints(checkpoint, value_checkpoint)
    policy = load_policy(policy_dir, seed=cfg.seed)
    meta = policy.metadata
    cams = tuple(meta["cameras"]) if meta["uses_images"] else ()
    conv = ConverterConfig(cameras=cams, image_size=tuple(meta["image_size"]) if cams else None,
                           control_period=meta["control_period"], stale_policy="flag", missing_outcome="abort",
                           robot=load_robot(cfg.robot))
    if policy.robot["description_hash"] != conv.robot.description_hash():
        raise ValueError(f"{policy_dir}: trained on robot description {policy.robot['name']!r} (hash "
                         f"{policy.robot['description_hash']}); the bag is read with {conv.robot.name!r} (hash "
                         f"{conv.robot.description_hash()}): pass the policy's description with --robot")
    joint_names = list(conv.robot.joint_names)
    episode, warnings = EpisodeBuilder(conv).build(bag, task=cfg.task)
    task = cfg.task or episode.task
    T = episode.num_steps
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    proposals = np.zeros((T, len(joint_names)))
    for lo in tqdm(range(0, T, cfg.batch_size), desc="replay", unit="batch"):
        obs = []
        for t in range(lo, min(T, lo + cfg.batch_size)):
            o = {"qpos": episode.qpos[t], "task": task, "images": {c: episode.images[c][t] for c in cams}}
            if episode.env_state is not None:
                o["env_state"] = episode.env_state[t]
            obs.append(o)
        chunks = policy.infer_batch(obs, cfg.advantage, cfg.guidance_scale)
        proposals[lo:lo + len(obs)] = chunks[:, 0]
    policy_s = time.perf_counter() - start

    values = advantages = None
    if value_dir is not None:
        values, advantages = _values_and_advantages(value_dir, episode, task, cfg.n_step)
    wall = time.perf_counter() - start
    duration = float(episode.timestamps[-1] - episode.timestamps[0]) + meta["control_period"]

    executed, recorded = episode.executed_action, episode.proposed_action
    has_rec = ~np.isnan(recorded).any(axis=1)
    report = {
        "bag": str(Path(bag).resolve()), "episode_id": episode.episode_id, "task": task,
        "outcome": episode.outcome, "steps": T, "policy": meta["policy_id"],
        "value_checkpoint": str(value_dir) if value_dir else None,
        "episode_duration_s": duration, "replay_wall_s": wall, "policy_wall_s": policy_s,
        "realtime_factor": duration / wall if wall > 0 else None,
        "mae_vs_executed": dict(zip(joint_names, np.abs(proposals - executed).mean(0).round(6).tolist())),
        "mae_vs_recorded_proposal": (dict(zip(joint_names, np.abs(proposals[has_rec] - recorded[has_rec]).mean(0)
                                              .round(6).tolist())) if has_rec.any() else None),
        "intervention_steps": int(episode.intervention.sum()), "warnings": warnings,
    }
    if values is not None:
        report["value_mean"] = float(values.mean())
        report["positive_advantage_fraction"] = (None if advantages is None
                                                 else float(np.mean(advantages[np.isfinite(advantages)] > 0)))
    write_json_atomic(out / "report.json", report)
    with open(out / "steps.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "time_s", "intervention", "value", "advantage"]
                   + [f"proposed_{j}" for j in joint_names] + [f"executed_{j}" for j in joint_names])
        for t in range(T):
            w.writerow([t, f"{episode.timestamps[t]:.4f}", int(episode.intervention[t]),
                        "" if values is None else f"{values[t]:.6f}",
                        "" if advantages is None or not np.isfinite(advantages[t]) else f"{advantages[t]:.6f}",
                        *np.round(proposals[t], 6), *np.round(executed[t], 6)])
    _plot_actions(out / "actions.png", episode, proposals, joint_names)
    if values is not None:
        _plot_value(out / "value.png", episode, values, advantages)
    return report


def _values_and_advantages(value_dir: Path, episode, task: str, n_step: int):
    from recap_trainer.advantages import n_step_advantages
    from recap_model.checkpoint import load_checkpoint
    from recap_trainer.rewards import LabelError, RewardConfig, episode_returns
    from recap_trainer.training.train_value import predict_values
    ckpt = load_checkpoint(value_dir, "value")
    ep = episode if task == episode.task else _with_task(episode, task)
    values = predict_values(ckpt.model, ckpt.stats, ep)
    try:
        rewards = RewardConfig.from_dict(ckpt.training["rewards"])
        ret = episode_returns(ep.episode_id, ep.num_steps, ep.outcome, ep.intervention,
                              rewards.for_task(task, ep.episode_id), rewards.takeover_split)
        adv = n_step_advantages(ret.rewards, values, ret.segment_end, n_step)
    except (LabelError, KeyError) as exc:  # aborted episode, unknown task: values only
        print(f"no advantages for {ep.episode_id}: {exc}")
        adv = None
    return values, adv


def _with_task(episode, task: str):
    from dataclasses import replace
    return replace(episode, task=task)


def _shade(ax, episode) -> None:
    iv = episode.intervention.astype(int)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], iv, [0]])))
    ts = episode.timestamps
    for a, b in zip(edges[::2], edges[1::2]):
        ax.axvspan(ts[a], ts[min(b, len(ts) - 1)], color="tab:red", alpha=0.15, lw=0)


def _plot_actions(path: Path, episode, proposals: np.ndarray, joint_names: list[str]) -> None:
    rows = -(-len(joint_names) // 2)  # two columns (ALOHA: one arm per column)
    fig, axes = plt.subplots(rows, 2, figsize=(12, 2 * rows), sharex=True, squeeze=False)
    ts = episode.timestamps
    for j, name in enumerate(joint_names):
        ax = axes[j % rows, j // rows]
        ax.plot(ts, episode.executed_action[:, j], label="executed (recorded)", lw=1.2)
        ax.plot(ts, proposals[:, j], label="policy (replay)", lw=1.0)
        if not np.isnan(episode.proposed_action[:, j]).all():
            ax.plot(ts, episode.proposed_action[:, j], label="policy (live)", lw=0.8, ls="--")
        _shade(ax, episode)
        ax.set_title(name, fontsize=8)
    axes[0, 0].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("time [s]")
    fig.suptitle(f"{episode.episode_id}: proposed vs recorded actions (red: human in control)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_value(path: Path, episode, values: np.ndarray, advantages: np.ndarray | None) -> None:
    fig, axes = plt.subplots(2 if advantages is not None else 1, 1, figsize=(10, 6), sharex=True, squeeze=False)
    ts = episode.timestamps
    axes[0, 0].plot(ts, values, color="tab:blue")
    axes[0, 0].set_ylabel("V(o_t)")
    _shade(axes[0, 0], episode)
    if advantages is not None:
        axes[1, 0].plot(ts, advantages, color="tab:green")
        axes[1, 0].axhline(0, color="k", lw=0.5)
        axes[1, 0].set_ylabel("A_t (N-step)")
        _shade(axes[1, 0], episode)
    axes[-1, 0].set_xlabel("time [s]")
    fig.suptitle(f"{episode.episode_id} ({episode.outcome}): value over time, interventions shaded")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
