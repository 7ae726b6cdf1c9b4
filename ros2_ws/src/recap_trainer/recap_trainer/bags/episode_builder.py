"""One bag -> one EpisodeData (steps at the control rate).

Per step: qpos from the follower arms, executed action from /executed_command (or, in a plain
teleoperation bag, the leader arms), the policy's proposal from /policy/command (NaN where none
is fresh), intervention from /intervention_state, images from the cameras, env_state from
/sim/object_state. The outcome comes from episode.json, else the bag's custom_data, else the
last outcome on /episode_events or /sim/task_state.
"""
from __future__ import annotations

import re
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from recap_core.aloha_layout import GripperCalibration, JointNameError, arm_vector, reorder_by_name

from recap_trainer.bags.alignment import clean_stamps, hold, step_grid
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.errors import BagError
from recap_trainer.bags.images import decode_resize, raw_image_view, resize
from recap_trainer.bags.source import BagSource
from recap_trainer.episode import EpisodeData, EpisodeError

EVENT_OUTCOMES = {1: "success", 2: "failure", 3: "abort"}  # EpisodeEvent kinds / new_outcome
TASK_OUTCOMES = {1: "success", 2: "failure"}  # TaskState.outcome
_RESIZE_THREADS = 2
_MAX_PENDING = 32  # raw camera frames in flight to the resize threads


def _resize_copy(img: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    return np.ascontiguousarray(img if size is None else resize(img, size))


@dataclass
class _Samples:
    stamps: list[int] = field(default_factory=list)
    log: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)


def _stamp(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def _safe_id(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip("._-")
    return cleaned[:200] or "episode"


class EpisodeBuilder:
    def __init__(self, config: ConverterConfig) -> None:
        self.config = config
        self.follower_gripper = GripperCalibration(*config.follower_gripper)
        self.leader_gripper = GripperCalibration(*config.leader_gripper)

    def build(self, path: str | Path, task: str | None = None, source_kind: str | None = None,
              iteration: int | None = None) -> tuple[EpisodeData, list[str]]:
        """Convert one bag. Raises BagError naming the bag (and topic); returns (episode, warnings)."""
        cfg = self.config
        src = BagSource(path)
        name = src.name
        available = set(src.topics)
        for topic in cfg.follower_topics:
            if topic not in available:
                raise BagError(f"{name}: {topic}: follower joint states missing (topics: {sorted(available)})")
        cams = cfg.camera_topics(available)
        for cam, topic in cams.items():
            if topic not in available:
                raise BagError(f"{name}: {topic}: camera {cam!r} missing (recorded: {sorted(available)}); "
                               "pass --cameras to convert without it")
        # Actions: /executed_command, else (a teleoperation bag) the leader arms. Which one is only
        # known after reading: our recorder creates every configured topic, used or not.
        action_candidates = {cfg.executed_topic, *cfg.leader_topics} & available
        optional = {cfg.proposed_topic, cfg.chunk_topic, cfg.intervention_topic, cfg.events_topic,
                    cfg.task_state_topic, cfg.object_state_topic}
        wanted = {*cfg.follower_topics, *action_candidates, *cams.values(), *(optional & available)}
        cam_of_topic = {t: c for c, t in cams.items()}

        samples: dict[str, _Samples] = {t: _Samples() for t in wanted}
        events: list[tuple[int, Any]] = []
        policy_ids: list[str] = []
        pool = ThreadPoolExecutor(max_workers=_RESIZE_THREADS, thread_name_prefix="resize")
        pending: deque[Future] = deque()
        try:
            state_names = self._read(src, wanted, samples, events, policy_ids, cam_of_topic, pool, pending)
        finally:
            pool.shutdown(wait=True)
        for s in samples.values():
            s.values = [v.result() if isinstance(v, Future) else v for v in s.values]
        use_leader = not samples.get(cfg.executed_topic, _Samples()).values
        if use_leader:
            silent = [t for t in cfg.leader_topics if not samples.get(t, _Samples()).values]
            if silent:
                raise BagError(f"{name}: neither {cfg.executed_topic} nor the leader arms {silent} have messages: "
                               "no action to learn from")
            src.warn(f"no {cfg.executed_topic} messages; using the leader arms as the executed action (teleoperation)")
        action_topics = tuple(cfg.leader_topics) if use_leader else (cfg.executed_topic,)
        return self._assemble(src, path, wanted, samples, events, policy_ids, cam_of_topic, cams,
                              use_leader, action_topics, state_names, task, source_kind, iteration)

    def _read(self, src, wanted, samples, events, policy_ids, cam_of_topic, pool, pending) -> list[str] | None:
        """One pass over the bag filling `samples` (per topic), `events`, `policy_ids`.

        Returns the object-state feature names (None without /sim/object_state).
        """
        cfg = self.config
        name = src.name
        state_names: list[str] | None = None
        for topic, log_ns, raw in src.messages(wanted):
            if topic in cam_of_topic and src.topics[topic] == "sensor_msgs/msg/Image":
                fast = raw_image_view(raw)  # the bulk of a bag: skip the generic deserializer
                if fast is not None:
                    s = samples[topic]
                    s.stamps.append(fast[0])
                    s.log.append(log_ns)
                    # resizing releases the GIL: it overlaps with reading the next messages
                    s.values.append(pool.submit(_resize_copy, fast[1], cfg.image_size))
                    pending.append(s.values[-1])
                    if len(pending) > _MAX_PENDING:  # bounded: at most this many raw frames held
                        pending.popleft().result()
                    continue
            try:
                msg = src.deserialize(raw, topic)
            except Exception as exc:
                src.warn(f"undecodable message at {log_ns} ns skipped ({type(exc).__name__}: {exc})", topic)
                continue
            where = f"{name}: {topic}"
            try:
                if topic in cfg.follower_topics:
                    value = arm_vector(msg.name, msg.position, self.follower_gripper, where)
                elif topic in cfg.leader_topics:
                    value = arm_vector(msg.name, msg.position, self.leader_gripper, where)
                elif topic in (cfg.executed_topic, cfg.proposed_topic):
                    value = reorder_by_name(msg.name, msg.position, where)
                elif topic in cam_of_topic:
                    value = decode_resize(msg, cfg.image_size)
                elif topic == cfg.intervention_topic:
                    value = bool(msg.human_in_control)
                elif topic == cfg.object_state_topic:
                    if state_names is None:
                        state_names = list(msg.name)
                    elif list(msg.name) != state_names:
                        raise BagError(f"{where}: object state names changed mid-episode")
                    value = np.asarray(msg.position, np.float64)
                elif topic == cfg.chunk_topic:
                    if msg.policy_id and (not policy_ids or policy_ids[-1] != msg.policy_id):
                        policy_ids.append(msg.policy_id)
                    continue
                elif topic in (cfg.events_topic, cfg.task_state_topic):
                    events.append((log_ns, (topic, msg)))
                    continue
                else:
                    continue
            except JointNameError as exc:
                raise BagError(f"mismatched joint names: {exc}") from exc
            except BagError:
                raise
            except Exception as exc:
                src.warn(f"message at {log_ns} ns skipped: {type(exc).__name__}: {exc}", topic)
                continue
            s = samples[topic]
            s.stamps.append(_stamp(msg))
            s.log.append(log_ns)
            s.values.append(value)
        return state_names

    def _assemble(self, src, path, wanted, samples, events, policy_ids, cam_of_topic, cams, use_leader,
                  action_topics, state_names, task, source_kind, iteration) -> tuple[EpisodeData, list[str]]:
        cfg = self.config
        name = src.name
        streams = {}
        for topic, s in samples.items():
            stamps, order = clean_stamps(topic, s.stamps, s.log, lambda m, t: src.warn(m, t))
            streams[topic] = (stamps, [s.values[i] for i in order])
        required = [*cfg.follower_topics, *action_topics, *cams.values()]
        for topic in required:
            if len(streams[topic][0]) == 0:
                raise BagError(f"{name}: {topic}: no usable messages")
        first = max(int(streams[t][0][0]) for t in required)
        last = min(int(streams[t][0][-1]) for t in required)
        grid = step_grid(first, last, cfg.control_period)
        if len(grid) == 0:
            raise BagError(f"{name}: the required topics never overlap in time ({required})")

        stale = np.zeros(len(grid), bool)
        held = {}
        for topic in wanted:
            if topic not in streams or topic in (cfg.events_topic, cfg.task_state_topic, cfg.chunk_topic):
                continue
            idx, age = hold(streams[topic][0], grid)
            held[topic] = (idx, age)
            if topic in required:
                tol = cfg.image_tolerance_s if topic in cam_of_topic else cfg.joint_tolerance_s
                stale |= age > tol
        n_stale = int(stale.sum())
        keep = ~stale if cfg.stale_policy == "drop" else np.ones(len(grid), bool)
        if n_stale:
            src.warn(f"{n_stale} of {len(grid)} steps have a stale required stream "
                     f"({'dropped' if cfg.stale_policy == 'drop' else 'kept, flagged'})")
        if not keep.any():
            raise BagError(f"{name}: every step is stale (tolerances joint {cfg.joint_tolerance_s}s, "
                           f"image {cfg.image_tolerance_s}s)")
        grid_k = grid[keep]

        def take(topic: str) -> list[Any]:
            idx = held[topic][0][keep]
            vals = streams[topic][1]
            return [vals[i] for i in idx]

        qpos = np.concatenate([np.stack(take(t)) for t in cfg.follower_topics], axis=1)
        if use_leader:
            executed = np.concatenate([np.stack(take(t)) for t in cfg.leader_topics], axis=1)
        else:
            executed = np.stack(take(cfg.executed_topic))
        proposed = np.full_like(executed, np.nan)
        if cfg.proposed_topic in held:
            idx, age = held[cfg.proposed_topic]
            fresh = (age <= cfg.proposal_tolerance_s)[keep]
            vals = streams[cfg.proposed_topic][1]
            for k in np.flatnonzero(fresh):
                proposed[k] = vals[idx[keep][k]]
        intervention = np.zeros(len(grid_k), bool)
        if cfg.intervention_topic in held:
            idx = held[cfg.intervention_topic][0][keep]
            vals = streams[cfg.intervention_topic][1]
            intervention = np.array([i >= 0 and vals[i] for i in idx], bool)
        env_state = None
        if cfg.object_state_topic in held and len(streams[cfg.object_state_topic][0]):
            idx, age = held[cfg.object_state_topic]
            vals = streams[cfg.object_state_topic][1]
            idx_k = np.maximum(idx[keep], 0)
            env_state = np.stack([vals[i] for i in idx_k])
        images = {cam: np.stack(take(topic)) for cam, topic in cams.items()}

        meta = src.sidecar or {}
        custom = {k.removeprefix("recap."): v for k, v in src.custom_data.items() if k.startswith("recap.")}
        outcome = meta.get("outcome") or (custom.get("outcome") if custom.get("outcome") not in ("null", "") else None)
        ev_task = None
        for _t, (topic, msg) in sorted(events, key=lambda e: e[0]):
            if topic == cfg.events_topic:
                if msg.task_prompt:
                    ev_task = msg.task_prompt
                kind = msg.new_outcome if msg.kind == 4 else msg.kind
                if kind in EVENT_OUTCOMES and not meta.get("outcome") and not custom.get("outcome"):
                    outcome = EVENT_OUTCOMES[kind]
            elif outcome is None and getattr(msg, "outcome", 0) in TASK_OUTCOMES and msg.done:
                outcome = TASK_OUTCOMES[msg.outcome]
        if outcome is None:
            if cfg.missing_outcome == "skip":
                raise BagError(f"{name}: episode has no outcome (no episode.json, custom_data, {cfg.events_topic} "
                               f"or {cfg.task_state_topic} outcome); relabel it or pass --missing-outcome")
            src.warn(f"no outcome recorded; using --missing-outcome {cfg.missing_outcome}")
            outcome = cfg.missing_outcome
        task = task or meta.get("task") or custom.get("task") or ev_task
        if not task:
            raise BagError(f"{name}: no task (no episode.json / custom_data / episode event); pass --task")
        has_policy = bool(policy_ids) or cfg.proposed_topic in held
        kind = source_kind or ("rollout" if has_policy else "demo")
        iter_value = iteration if iteration is not None else int(meta.get("iteration") or custom.get("iteration") or 0)
        bag_path = Path(path)
        episode_id = _safe_id(meta.get("episode_id") or custom.get("episode_id") or
                              (bag_path.name if bag_path.is_dir() else bag_path.stem))
        metadata = {
            "bag": str(bag_path.resolve()), "start_time_ns": int(grid_k[0]),
            "steps_in_grid": int(len(grid)), "stale_steps": n_stale, "stale_policy": cfg.stale_policy,
            "complete": bool(meta.get("complete", True)) and src.complete, "policy_ids": policy_ids,
            "recorder_config_hash": meta.get("config_hash") or custom.get("config_hash") or "",
            "state_names": state_names, "warnings": list(src.warnings),
            "converter_config_hash": cfg.hash(),
        }
        try:
            episode = EpisodeData(
                episode_id=episode_id, task=task, outcome=outcome, source=kind, iteration=iter_value,
                timestamps=(grid_k - grid_k[0]) / 1e9, qpos=qpos, env_state=env_state, images=images,
                executed_action=executed, proposed_action=proposed, intervention=intervention,
                metadata=metadata)
        except EpisodeError as exc:
            raise BagError(f"{name}: {exc}") from exc
        return episode, list(src.warnings)
