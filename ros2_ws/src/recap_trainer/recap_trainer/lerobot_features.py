"""What a LeRobot export holds per frame: the feature table of meta/info.json, the advantage labels
it carries, and the instruction each RECAP task becomes.

RECAP columns (`recap.*`): iteration and outcome always; with labels the advantage indicator I_t
(`recap.indicator`: 1 positive, 0 negative, -1 unlabelled, i.e. an aborted episode), and with
`recap label` output also the advantage A_t and the value V(o_t) (NaN where unlabelled).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

log = logging.getLogger(__name__)

OUTCOME_CODES = {"success": 1, "failure": 0, "abort": -1}
UNLABELLED = -1
# Stored as fixed-size float32 lists; every other column holds one value per frame.
VECTORS = frozenset({"observation.state", "observation.environment_state", "action",
                     "complementary_info.proposed_action"})
_ID_LIKE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class ExportLabels:
    """Per-episode (T,) arrays keyed by episode id; advantage / value only from `recap label` output."""

    indicator: dict[str, np.ndarray]
    advantage: dict[str, np.ndarray] | None = None
    value: dict[str, np.ndarray] | None = None


def load_labels(labels: Any) -> ExportLabels | None:
    """labels: None, a `recap label` output directory, or {episode_id: per-step bools}."""
    if labels is None:
        return None
    if isinstance(labels, (str, Path)):
        from recap_trainer.labels import Labels
        loaded = Labels.load(labels)
        return ExportLabels(dict(loaded.indicator), dict(loaded.advantage), dict(loaded.value))
    return ExportLabels({k: np.asarray(v, bool) for k, v in labels.items()})


def check_labels_match(summaries, labels: ExportLabels) -> None:
    """Every episode with an outcome needs labels of its length (aborted episodes are never
    labelled): labels of other data would otherwise export unconditioned without a word."""
    indicator = labels.indicator
    ids = {s.episode_id for s in summaries}
    missing = [s.episode_id for s in summaries if s.outcome != "abort" and s.episode_id not in indicator]
    if missing:
        extra = sorted(set(indicator) - ids)
        hint = f"; the labels hold {len(extra)} episode(s) the dataset lacks: {_few(extra)}" if extra else ""
        raise ValueError(f"labels do not match the dataset: {len(missing)} of its {len(ids)} episodes have no "
                         f"labels: {_few(missing)}{hint}")
    for s in summaries:
        flags = indicator.get(s.episode_id)
        if flags is not None and len(flags) != s.num_steps:
            raise ValueError(f"labels for episode {s.episode_id}: {len(flags)} flags for {s.num_steps} steps")


def _few(ids: list[str], count: int = 3) -> str:
    return ", ".join(ids[:count]) + (f" and {len(ids) - count} more" if len(ids) > count else "")


def parse_prompt(text: str) -> tuple[str, str]:
    """`TASK=INSTRUCTION` (the --prompt option) -> (task, instruction)."""
    task, sep, prompt = text.partition("=")
    if not sep or not task.strip() or not prompt.strip():
        raise ValueError(f"--prompt {text!r}: expected TASK=INSTRUCTION, e.g. espresso='make an espresso'")
    return task.strip(), prompt.strip()


def instruction(task: str, metadata: dict, prompts: dict[str, str]) -> str:
    """The sentence a VLA is prompted with: --prompt for the task, else the episode's recorded
    `prompt`, else the task text itself (recorded bags carry the operator's instruction there)."""
    return prompts.get(task) or metadata.get("prompt") or task


def warn_id_like(tasks: set[str], prompts: dict[str, str]) -> None:
    """Simulator datasets name tasks by id ('espresso'): a VLA wants the instruction sentence."""
    for task in sorted(t for t in tasks if t not in prompts and _ID_LIKE.match(t)):
        log.warning("task %r looks like a task id, not an instruction; the export prompts with it as is "
                    "(pass --prompt %s='<instruction>' to prompt with a sentence)", task, task)


def recap_columns(labels: ExportLabels | None) -> dict[str, str]:
    """{column: dtype} of the RECAP columns an export with these labels has."""
    columns = {"recap.iteration": "int64", "recap.outcome": "int64"}
    if labels is not None:
        columns["recap.indicator"] = "int64"
        if labels.advantage is not None:
            columns.update({"recap.advantage": "float32", "recap.value": "float32"})
    return columns


def recap_frames(labels: ExportLabels | None, episode_id: str, iteration: int, outcome: str,
                 steps: int) -> dict[str, np.ndarray]:
    """The RECAP columns of one episode's frames."""
    cols = {"recap.iteration": np.full(steps, iteration, np.int64),
            "recap.outcome": np.full(steps, OUTCOME_CODES[outcome], np.int64)}
    if labels is None:
        return cols
    flags = labels.indicator.get(episode_id)
    cols["recap.indicator"] = (np.full(steps, UNLABELLED, np.int64) if flags is None
                               else np.asarray(flags, bool).astype(np.int64))
    if labels.advantage is not None:
        for name, source in (("recap.advantage", labels.advantage), ("recap.value", labels.value)):
            values = source.get(episode_id)
            cols[name] = (np.full(steps, np.nan, np.float32) if values is None
                          else np.asarray(values, np.float32).reshape(steps))
    return cols


def _scalar(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "shape": [1], "names": None}


def env_state_feature(dim: int, names: Any) -> dict[str, Any]:
    """observation.environment_state (what ACT / diffusion take without cameras); `names` from
    the episode metadata's state_names when they fit."""
    fits = isinstance(names, list) and len(names) == dim and all(isinstance(n, str) for n in names)
    return {"dtype": "float32", "shape": [dim], "names": names if fits else None}


def features(joint_names: Sequence[str], cams: list[str], image_size: tuple[int, int],
             env_state: dict[str, Any] | None, recap: dict[str, str],
             video_info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """meta/info.json `features`, in the order of the data columns; the state and action vectors are
    named by the dataset's robot (`joint_names`, D entries)."""
    joints = {"dtype": "float32", "shape": [len(joint_names)], "names": list(joint_names)}
    table: dict[str, dict[str, Any]] = {"observation.state": dict(joints)}
    if env_state is not None:
        table["observation.environment_state"] = env_state
    table["action"] = dict(joints)
    table["complementary_info.proposed_action"] = dict(joints)
    table.update({"next.reward": _scalar("float32"), "next.done": _scalar("bool"),
                  "complementary_info.is_intervention": _scalar("bool")})
    table.update({name: _scalar(dtype) for name, dtype in recap.items()})
    table["timestamp"] = _scalar("float32")
    for name in ("frame_index", "episode_index", "index", "task_index"):
        table[name] = _scalar("int64")
    h, w = image_size
    for cam in cams:
        table[f"observation.images.{cam}"] = {"dtype": "video", "shape": [h, w, 3],
                                              "names": ["height", "width", "channels"], "info": video_info}
    return table
