"""Drives deployment episodes through the ROS graph: reset the sim paused, start a recorded
episode, resume the sim, wait for the task to finish, end the episode with its outcome.

Paused because the physics would otherwise run while the recorder opens its bag: the first ticks
of every episode were lost, and an episode that failed within them had no joint states at all.

A client of the sim (/sim/reset, /sim/resume, /sim/task_state) and the recorder (/recorder/start_episode,
/recorder/end_episode). It owns its own rclpy context and spins it on a background thread, so
the loop can call `run_episode` from plain Python.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_srvs.srv import Trigger

from recap_msgs.msg import InterventionState, TaskState
from recap_msgs.srv import EndEpisode, RelabelEpisode, ResetSim, StartEpisode

# The sim latches its task state (transient local, depth 1): a late subscriber gets the latest.
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class EpisodeError(RuntimeError):
    """An episode could not be run (a service refused or did not answer)."""


class RecorderRefused(EpisodeError):
    """The recorder declined to start an episode (e.g. free disk below its threshold)."""


@dataclass(frozen=True)
class EpisodeResult:
    episode_id: str
    seed: int
    outcome: str  # "success" | "failure" | "abort"
    failure_reason: str
    sim_duration_s: float  # task time as reported by the sim
    interventions: int
    bag_path: str
    # The task's stages as the sim reported them (/sim/task_state): stage = stages completed, of
    # num_stages; the furthest reached and the name of the last one; 0, 0, "" if none was received.
    max_stage: int = 0
    num_stages: int = 0
    final_stage: str = ""


class EpisodeDriver:
    def __init__(self, domain_id: int | None = None, service_timeout_s: float = 10.0) -> None:
        self._context = Context()
        rclpy.init(context=self._context, domain_id=domain_id)
        self.node = Node("recap_episode_driver", context=self._context)
        self._timeout = service_timeout_s
        self._reset = self.node.create_client(ResetSim, "/sim/reset")
        self._resume = self.node.create_client(Trigger, "/sim/resume")
        self._start = self.node.create_client(StartEpisode, "/recorder/start_episode")
        self._end = self.node.create_client(EndEpisode, "/recorder/end_episode")
        self._relabel = self.node.create_client(RelabelEpisode, "/recorder/relabel_episode")
        self._state_lock = threading.Condition()
        self._task_state: TaskState | None = None
        self._interventions = 0
        self._episode_id = ""  # the episode being recorded: intervention counts of others are ignored
        self._human_in_control = False
        self.node.create_subscription(TaskState, "/sim/task_state", self._on_task_state, LATCHED)
        self.node.create_subscription(InterventionState, "/intervention_state", self._on_intervention, LATCHED)
        # One thread: the service calls wait on the caller's thread, the callbacks are short, and this
        # wheel's MultiThreadedExecutor busy-loops on 50 Hz task states (docs/SIM_NODE.md).
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    def _on_task_state(self, msg: TaskState) -> None:
        with self._state_lock:
            self._task_state = msg
            self._state_lock.notify_all()

    def _on_intervention(self, msg: InterventionState) -> None:
        with self._state_lock:
            self._human_in_control = msg.human_in_control
            self._state_lock.notify_all()
            if msg.episode_id and msg.episode_id == self._episode_id:
                self._interventions = msg.intervention_count

    def _call(self, client, request, what: str):
        if not client.wait_for_service(timeout_sec=self._timeout):
            raise EpisodeError(f"{what}: service {client.srv_name} is not available "
                               f"(is its node running?)")
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(self._timeout):
            raise EpisodeError(f"{what}: {client.srv_name} did not answer within {self._timeout:.0f} s")
        return future.result()

    def run_episode(self, task: str, seed: int, prompt: str, wall_timeout_s: float) -> EpisodeResult:
        """One recorded episode; returns once the sim reports the task done (or aborts on timeout)."""
        reply = self._call(self._reset, ResetSim.Request(task=task, seed=seed, start_paused=True), "reset the sim")
        if not reply.success:
            raise EpisodeError(f"the sim refused reset(task={task}, seed={seed}): {reply.message}")
        # The reply carries the new episode's state. (Waiting on the topic for "seed matches and not
        # done" can miss it: an episode that ends within a tick replaces it in the latched topic.)
        if reply.state.seed != seed:
            raise EpisodeError(f"the sim reset to seed {reply.state.seed}, not {seed}")
        # An operator correcting the previous episode hands back on reset: start recording only once
        # the policy is in control, so an episode's interventions are its own.
        with self._state_lock:
            if not self._state_lock.wait_for(lambda: not self._human_in_control, 10.0):
                raise EpisodeError("the human is still in control 10 s after the reset (/intervention_state)")
        start = self._call(self._start, StartEpisode.Request(task_prompt=prompt, note=f"seed={seed}"),
                           "start recording")
        if not start.accepted:
            raise RecorderRefused(f"the recorder refused to start an episode: {start.message}")
        with self._state_lock:
            self._episode_id, self._interventions = start.episode_id, 0
        resumed = self._call(self._resume, Trigger.Request(), "resume the sim")
        if not resumed.success:
            raise EpisodeError(f"the sim did not resume episode {start.episode_id}: {resumed.message}")
        state = self._wait_state(lambda s: s.seed == seed and s.done, wall_timeout_s, None)
        if state is None:
            outcome, reason, code = "abort", "wall-clock timeout", EndEpisode.Request.ABORT
            state = self._task_state
        elif state.outcome == TaskState.OUTCOME_SUCCESS:
            outcome, reason, code = "success", "", EndEpisode.Request.SUCCESS
        else:
            outcome, reason, code = "failure", state.failure_reason, EndEpisode.Request.FAILURE
        end = self._call(self._end, EndEpisode.Request(outcome=code, episode_id=start.episode_id,
                                                        note=reason), "end the episode")
        if not end.accepted:
            raise EpisodeError(f"the recorder refused to end episode {start.episode_id}: {end.message}")
        if state is None:
            return EpisodeResult(start.episode_id, seed, outcome, reason, float("nan"), self._interventions,
                                 end.bag_path)
        elapsed = state.elapsed.sec + state.elapsed.nanosec * 1e-9
        return EpisodeResult(start.episode_id, seed, outcome, reason, elapsed, self._interventions, end.bag_path,
                             int(state.max_stage), int(state.num_stages), state.stage_name)

    def abort_recorded(self, episode_id: str, note: str) -> None:
        """Relabel a finished episode as aborted (its data must not count as a policy outcome)."""
        reply = self._call(self._relabel, RelabelEpisode.Request(episode_id=episode_id, outcome=RelabelEpisode.Request.ABORT,
                                                                 note=note), "relabel the episode")
        if not reply.accepted:
            raise EpisodeError(f"the recorder refused to relabel {episode_id}: {reply.message}")

    def _wait_state(self, predicate, timeout: float, what: str | None) -> TaskState | None:
        deadline = time.monotonic() + timeout
        with self._state_lock:
            ok = self._state_lock.wait_for(
                lambda: self._task_state is not None and predicate(self._task_state),
                max(0.0, deadline - time.monotonic()))
            if not ok:
                if what:
                    raise EpisodeError(f"timed out after {timeout:.0f} s waiting for {what} on /sim/task_state")
                return None
            return self._task_state

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self._context)
        self._thread.join(timeout=5.0)
