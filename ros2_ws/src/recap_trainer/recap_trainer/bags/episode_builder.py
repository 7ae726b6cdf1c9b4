"""One bag -> one EpisodeData (steps at the control rate, RECAP's training unit).

Per step: qpos from the follower arms (topics, joint names and gripper calibration from the robot
description), the executed action from /executed_command (a
teleoperation bag without it: the leader arms), the policy's proposal from /policy/command (NaN
where none is fresh; commands the arbitration node refused are skipped), intervention from /intervention_state, camera frames, env_state from
/sim/object_state. Shapes: T steps, D = the description's state vector: qpos, executed, proposed
(T, D); images (T, H, W, 3). A bag whose metadata names another robot description (hash) than the
converter's is refused naming both; a plain `ros2 bag record` bag names none.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from recap_trainer.bags.alignment import AlignedSteps
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.decode import DecodedBag, decode_bag
from recap_trainer.bags.episode_labels import check_bag_robot, episode_labels, event_task
from recap_trainer.bags.errors import BagError
from recap_trainer.bags.source import BagSource
from recap_trainer.episode import EpisodeData, EpisodeError


IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


class EpisodeBuilder:
    def __init__(self, config: ConverterConfig) -> None:
        self.config = config

    def build(self, path: str | Path, task: str | None = None, source_kind: str | None = None,
              iteration: int | None = None) -> tuple[EpisodeData, list[str]]:
        """Convert one bag. Raises BagError naming the bag (and topic); returns (episode, warnings)."""
        cfg = self.config
        src = BagSource(path)
        available = set(src.topics)
        if not available:
            raise BagError(f"{src.name}: the bag records no topics")
        for topic in cfg.follower_topics:
            if topic not in available:
                raise BagError(f"{src.name}: {topic}: follower joint states of robot {cfg.robot.name!r} missing "
                               f"(topics: {sorted(available)})")
        check_bag_robot(src, cfg)
        cams = self._camera_topics(src)
        optional = {cfg.executed_topic, *cfg.leader_topics, cfg.proposed_topic, cfg.chunk_topic,
                    cfg.intervention_topic, cfg.events_topic, cfg.task_state_topic, cfg.object_state_topic}
        topics = {*cfg.follower_topics, *cams.values(), *(optional & available)}
        sizes = {cams[cam.name]: cam.size for cam in cfg.camera_descriptions()}
        decoded = decode_bag(src, cfg, topics, sizes)
        action_topics = self._action_topics(src, decoded)
        labels = episode_labels(src, Path(path), cfg, decoded.events, task, iteration)
        # Staleness is judged on the observation (follower arms, cameras) only: a command that was
        # not refreshed is what the arm actually kept executing (controllers hold the last command).
        steps = AlignedSteps(src.name, cfg, decoded.samples,
                             required=[*cfg.follower_topics, *action_topics, *cams.values()],
                             observed=[*cfg.follower_topics, *cams.values()], cameras=set(cams.values()),
                             warn=lambda message, topic: src.warn(message, topic))

        qpos = np.concatenate([steps.take(t) for t in cfg.follower_topics], axis=1)
        executed = np.concatenate([steps.take(t) for t in action_topics], axis=1)
        proposed = steps.take(cfg.proposed_topic, tolerance=cfg.proposal_tolerance_s, fill=np.full(len(cfg.robot.joint_names), np.nan))
        intervention = steps.take(cfg.intervention_topic, fill=False)
        env_state = steps.take(cfg.object_state_topic)  # None without /sim/object_state messages
        images = {cam: steps.take(topic) for cam, topic in cams.items()}
        if proposed is None:
            proposed = np.full_like(executed, np.nan)
        intervention = np.zeros(steps.count, bool) if intervention is None else intervention.astype(bool)
        has_policy = bool(decoded.policy_ids) or decoded.has_messages(cfg.proposed_topic)
        metadata = {
            "bag": str(Path(path).resolve()), "start_time_ns": int(steps.times[0]),
            "steps_in_grid": steps.grid_size, "stale_steps": steps.stale, "stale_policy": cfg.stale_policy,
            "stale_reasons": steps.stale_reasons, "skipped_messages": steps.skipped,
            "camera_drops": {cam: steps.camera_drops[topic] for cam, topic in cams.items()
                             if topic in steps.camera_drops},
            "complete": labels.complete, "policy_ids": decoded.policy_ids,
            "recorder_config_hash": labels.recorder_config_hash, "state_names": decoded.state_names,
            "warnings": list(src.warnings), "converter_config_hash": cfg.hash(),
        }
        prompt = event_task(decoded.events, cfg)  # the instruction the episode was started with
        if prompt:
            metadata["prompt"] = prompt
        try:
            episode = EpisodeData(
                episode_id=labels.episode_id, task=labels.task, outcome=labels.outcome,
                source=source_kind or ("rollout" if has_policy else "demo"), iteration=labels.iteration,
                timestamps=(steps.times - steps.times[0]) / 1e9, qpos=qpos, env_state=env_state, images=images,
                executed_action=executed, proposed_action=proposed, intervention=intervention, metadata=metadata)
        except EpisodeError as exc:
            raise BagError(f"{src.name}: {exc}") from exc
        return episode, list(src.warnings)

    def _camera_topics(self, src: BagSource) -> dict[str, str]:
        """camera -> its topic in the bag: the description's, or for a `raw` camera image_transport's
        `<topic>/compressed` when only that was recorded."""
        out = {}
        for cam in self.config.camera_descriptions():
            topic = cam.topic
            if topic not in src.topics and cam.encoding == "raw" and f"{topic}/compressed" in src.topics:
                topic = f"{topic}/compressed"
            if topic not in src.topics:
                raise BagError(f"{src.name}: {topic}: camera {cam.name!r} of robot {self.config.robot.name!r} missing "
                               f"(recorded: {sorted(src.topics)}); pass --cameras to convert without it")
            if src.topics[topic] not in IMAGE_TYPES:
                raise BagError(f"{src.name}: {topic}: camera {cam.name!r} is recorded as {src.topics[topic]}, "
                               f"not one of {list(IMAGE_TYPES)}")
            out[cam.name] = topic
        return out

    def _action_topics(self, src: BagSource, decoded: DecodedBag) -> tuple[str, ...]:
        """/executed_command when it has messages, else the leader arms (our recorder creates every
        configured topic, used or not, so presence alone says nothing)."""
        cfg = self.config
        if decoded.has_messages(cfg.executed_topic):
            return (cfg.executed_topic,)
        silent = [t for t in cfg.leader_topics if not decoded.has_messages(t)]
        if silent:
            raise BagError(f"{src.name}: neither {cfg.executed_topic} nor the leader arms {silent} have messages: "
                           "no action to learn from")
        src.warn(f"no {cfg.executed_topic} messages; using the leader arms as the executed action (teleoperation)")
        return tuple(cfg.leader_topics)
