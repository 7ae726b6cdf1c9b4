"""Advantage labels for policy training: A_t, eps_l per task, and the indicator I_t.

Stages (Algorithm 1, RECAP.md):
  "pretrain": pi_pre on demos; Monte Carlo advantages (N = T); eps_l so ~30% of the task's
              demonstration steps are positive.
  "sft":      pi^0 on the task's demos: demonstrations are forced I = 1; any rollouts in the data
              are labelled as in "finetune".
  "finetune": pi^k, k >= 1, on all data; N = 50; eps_l so ~40% of the task's rollout steps are
              positive (of all its steps if it has no rollouts yet).
In every stage steps where a human intervened are forced I = 1. Aborted episodes are left out.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
from safetensors.numpy import load_file, save as numpy_to_bytes

from recap_core.output_files import write_bytes_atomic, write_json_atomic
from recap_trainer.advantages import n_step_advantages, threshold_for_fraction
from recap_core.config_errors import check_field, check_task_names
from recap_trainer.rewards import LabelError, RewardConfig, check_outcome, episode_returns

log = logging.getLogger(__name__)
STAGES = ("pretrain", "sft", "finetune")
DEFAULT_POSITIVE_FRACTION = {"pretrain": 0.3, "sft": 0.4, "finetune": 0.4}
DEFAULT_N_STEP = {"pretrain": None, "sft": 50, "finetune": 50}


@dataclass(frozen=True)
class LabelConfig:
    stage: str = "finetune"
    n_step: int | None = -1  # N; None = Monte Carlo (N = T); -1 = the stage's default (MC / 50)
    positive_fraction: float | None = None  # default for all tasks; None = the stage's (0.3 / 0.4)
    task_positive_fraction: Mapping[str, float] = field(default_factory=dict)  # per-task override

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_field(self.stage in STAGES, name, "stage", f"must be one of {STAGES}", self.stage)
        if self.n_step == -1:
            object.__setattr__(self, "n_step", DEFAULT_N_STEP[self.stage])
        check_field(self.n_step is None or self.n_step > 0, name, "n_step", "must be > 0",
                    self.n_step)
        if self.positive_fraction is None:
            object.__setattr__(self, "positive_fraction", DEFAULT_POSITIVE_FRACTION[self.stage])
        check_field(0.0 < self.positive_fraction < 1.0, name, "positive_fraction", "must be in (0, 1)",
                    self.positive_fraction)
        for task, frac in self.task_positive_fraction.items():
            check_field(0.0 < frac < 1.0, name, "task_positive_fraction", f"of task {task!r} must be in (0, 1)", frac)

    def fraction(self, task: str) -> float:
        return float(self.task_positive_fraction.get(task, self.positive_fraction))


@dataclass
class Labels:
    """Per-episode arrays keyed by episode_id, plus eps per task."""

    advantage: dict[str, np.ndarray]  # (T,) A_t (NaN for left-out episodes is never stored)
    indicator: dict[str, np.ndarray]  # (T,) bool I_t
    value: dict[str, np.ndarray]  # (T,) V(o_t)
    returns: dict[str, np.ndarray]  # (T,) normalised R_t
    thresholds: dict[str, float]  # eps_l
    info: dict  # stage, config, counts

    def save(self, directory: str | Path) -> Path:
        """Write labels.safetensors, then labels.json (what `load` looks for), each atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for name in ("advantage", "indicator", "value", "returns"):
            for ep, arr in getattr(self, name).items():
                tensors[f"{name}/{ep}"] = np.ascontiguousarray(arr.astype(np.uint8) if arr.dtype == bool else arr)
        write_bytes_atomic(directory / "labels.safetensors", numpy_to_bytes(tensors))
        write_json_atomic(directory / "labels.json", {"thresholds": self.thresholds, **self.info})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "Labels":
        directory = Path(directory)
        if not (directory / "labels.json").is_file():
            raise LabelError(f"{directory}: no labels.json (run `recap label` first)")
        try:
            info = json.loads((directory / "labels.json").read_text())
            thresholds = info.pop("thresholds")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, AttributeError) as exc:
            raise LabelError(f"{directory / 'labels.json'}: damaged ({type(exc).__name__}: {exc})") from exc
        try:
            tensors = load_file(str(directory / "labels.safetensors"))
        except Exception as exc:  # safetensors raises several types for missing / truncated files
            raise LabelError(f"{directory / 'labels.safetensors'}: cannot read labels ({exc})") from exc
        parts: dict[str, dict[str, np.ndarray]] = {n: {} for n in ("advantage", "indicator", "value", "returns")}
        for key, arr in tensors.items():
            name, _, ep = key.partition("/")
            if name not in parts or not ep:
                raise LabelError(f"{directory / 'labels.safetensors'}: unexpected tensor {key!r}")
            parts[name][ep] = arr.astype(bool) if name == "indicator" else arr
        return cls(thresholds=thresholds, info=info, **parts)

    def positive_fraction(self) -> float:
        flags = np.concatenate(list(self.indicator.values()))
        return float(flags.mean())


def compute_labels(
    episodes: Iterable,
    values_fn: Callable[[object], np.ndarray],
    rewards: RewardConfig,
    config: LabelConfig,
) -> Labels:
    """Label every episode. values_fn(episode) -> V(o_t) (T,) from the value function V^k."""
    adv, ind, val, ret = {}, {}, {}, {}
    meta: dict[str, tuple[str, str, np.ndarray]] = {}  # episode -> (task, source, intervention)
    successes: dict[str, int] = {}
    skipped = 0
    for ep in episodes:
        eid = ep.episode_id
        if check_outcome(eid, ep.outcome) == "abort":
            log.info("episode %s: aborted, left out of the labels", eid)
            skipped += 1
            continue
        if eid in adv:
            raise LabelError(f"episode {eid}: appears twice in the data")
        length = len(ep.timestamps)
        intervention = np.asarray(ep.intervention, bool)
        if intervention.shape != (length,):
            raise LabelError(f"episode {eid}: intervention has shape {intervention.shape}, expected ({length},)")
        r = episode_returns(eid, length, ep.outcome, intervention, rewards.for_task(ep.task, eid), rewards.takeover_split)
        values = np.asarray(values_fn(ep), np.float64)
        if values.shape != (length,) or not np.all(np.isfinite(values)):
            raise LabelError(f"episode {eid}: value function gave {values.shape} values (NaN?) for {length} steps")
        adv[eid] = n_step_advantages(r.rewards, values, r.segment_end, config.n_step).astype(np.float32)
        val[eid], ret[eid] = values.astype(np.float32), r.returns.astype(np.float32)
        meta[eid] = (ep.task, ep.source, intervention)
        successes[ep.task] = successes.get(ep.task, 0) + (ep.outcome == "success")
    if not adv:
        raise LabelError("no episodes to label (empty dataset, or every episode aborted)")

    check_task_names("LabelConfig", "task_positive_fraction", config.task_positive_fraction, successes)
    thresholds = {}
    for task in sorted(successes):
        if successes[task] == 0:
            raise LabelError(f"task {task!r} has no successful episode: its advantage threshold eps is undefined")
        thresholds[task] = threshold_for_fraction(_population(task, meta, adv, config.stage), config.fraction(task))

    for eid, (task, source, intervention) in meta.items():
        flags = adv[eid] > thresholds[task]
        if config.stage == "sft" and source == "demo":
            flags[:] = True  # demonstrations are positive in the SFT stage
        ind[eid] = flags | intervention  # human steps are forced positive
    info = {
        "stage": config.stage,
        "n_step": config.n_step,
        "positive_fraction": {t: config.fraction(t) for t in thresholds},
        "rewards": rewards.to_dict(),
        "episodes": len(adv),
        "aborted_left_out": skipped,
    }
    return Labels(adv, ind, val, ret, thresholds, info)


def _population(task: str, meta: dict, adv: dict, stage: str) -> np.ndarray:
    """The steps whose advantages set eps_l: demos (pretrain), rollouts (else), all if none;
    human steps are excluded because they are forced positive anyway."""
    wanted = "demo" if stage == "pretrain" else "rollout"
    chosen = [eid for eid, (t, s, _) in meta.items() if t == task and s == wanted]
    if not chosen:
        chosen = [eid for eid, (t, _, _) in meta.items() if t == task]
    parts = [adv[e][~meta[e][2]] for e in chosen]
    population = np.concatenate(parts) if parts else np.empty(0)
    if population.size == 0:  # only human steps: fall back to all of them
        population = np.concatenate([adv[e] for e in chosen])
    return population
