"""The operator's console model, ROS-free: what the stack is doing, and what each action may do now.

Inputs (from the node): InterventionState, the e-stop topic, EpisodeEvents, ActionChunks, the
nodes' /diagnostics statuses (the recorder's episode, timer and drops, the policy's latency, the
arbitration watchdog), the console lock, and the replies of the service calls the console made. `plan(action)` checks the
action's preconditions and returns the request the node must send, or None after telling the
operator why not (`messages`). Thread-safe: the ROS executor feeds it, the UI thread reads `view`.
Times are the console's monotonic seconds.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from recap_teleop.console_input import KEY_OF, Action
from recap_teleop.console_requests import (RECORDER, SIM, TAKEOVER, EndEpisode, Quit, RelabelEpisode, Request,
                                           ResetHome, SetEstop, SetTakeover, StartEpisode, describe)
from recap_teleop.takeover import Source

# The nodes whose /diagnostics the console shows (statuses are named "<node>: <what>").
RECORDER_NODE, POLICY_NODE, ARBITRATION_NODE = "episode_recorder", "policy_node", "arbitration_node"
OUTCOMES = ("success", "failure", "abort")
LABEL_OF = {Action.SUCCESS: "success", Action.FAILURE: "failure", Action.ABORT: "abort"}


@dataclass(frozen=True)
class ConsoleConfig:
    task_prompt: str  # the prompt every episode started here is recorded with
    home_seed: int = 0  # /sim/reset seed of the home action (the task's start pose for that seed)
    service_timeout_s: float = 5.0  # a service that has not answered by then is reported
    state_timeout_s: float = 3.0  # /intervention_state older than this: the arbitration node is silent
    relabel_window_s: float = 60.0  # how long after its end an episode can be relabelled from here
    policy_timeout_s: float = 1.0  # no ActionChunk for this long: the policy is reported silent

    def __post_init__(self) -> None:
        if not self.task_prompt.strip():
            raise ValueError("task_prompt is empty: episodes need the task they record "
                             "(recap-console --task 'transfer the cube')")
        for name in ("service_timeout_s", "state_timeout_s", "relabel_window_s", "policy_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.home_seed < 0:
            raise ValueError(f"home_seed must be >= 0, got {self.home_seed}")


class Mode(Enum):
    UNKNOWN = "unknown"
    POLICY = "POLICY"
    HUMAN = "HUMAN"
    HOLD = "HOLD"


@dataclass(frozen=True)
class Recording:
    episode_id: str
    task: str
    started_at: float | None  # None: it started before this console did


@dataclass(frozen=True)
class Ended:
    episode_id: str
    outcome: str
    ended_at: float
    bag_path: str = ""
    detected_drops: int | None = None  # from the bag's episode.json; None: not readable here


@dataclass(frozen=True)
class ConsoleView:
    """A consistent snapshot for the UI."""

    mode: Mode
    mode_detail: str
    interventions: int
    in_control: bool
    control: str
    recording: Recording | None
    elapsed_s: float | None
    episodes_started: int
    outcome_counts: dict[str, int]
    last_ended: Ended | None
    estop: bool
    policy: str
    recorder: str  # the recorder's own report: recording, episode, timer, drops
    latency: str  # the policy node's inference latency p50 / p99
    watchdog: str  # the arbitration node's watchdog: ok or why the arms hold
    pending: tuple[str, ...]
    messages: tuple[str, ...]  # newest first


class ConsoleModel:
    def __init__(self, config: ConsoleConfig, now: float, history: int = 6,
                 log: Callable[[str], None] = lambda text: None) -> None:
        self.config = config
        self._log = log  # every message shown to the operator also goes to the log
        self._lock = threading.RLock()
        self._iv: tuple[bool, int, str, str, int] | None = None  # human, source, detail, episode id, count
        self._iv_at = 0.0
        self._estop = False
        self._recording: Recording | None = None
        self._ended: Ended | None = None
        self._outcomes: dict[str, str] = {}  # episode id -> outcome, for the counts
        self._started: set[str] = set()
        self._chunk: tuple[float, float, float | None, str] | None = None  # at, latency, age, policy id
        self._diagnostics: dict[str, tuple[float, dict[str, str]]] = {}  # node -> (at, merged status values)
        self._owner = False
        self._control = "checking for another console"
        self._pending: dict[str, tuple[Request, float]] = {}
        self._messages: deque[str] = deque(maxlen=history)
        self.started_at = now

    # Inputs ---------------------------------------------------------------------------------------------
    def intervention(self, now: float, human: bool, source: int, detail: str, episode_id: str, count: int) -> None:
        with self._lock:
            self._iv, self._iv_at = (human, source, detail, episode_id, count), now
            if episode_id and self._recording is None and episode_id not in self._outcomes:
                self._recording = Recording(episode_id, "?", None)  # learnt from the latched state

    def estop(self, engaged: bool) -> None:
        with self._lock:
            self._estop = engaged

    def episode_started(self, now: float, episode_id: str, task: str) -> None:
        with self._lock:
            if self._recording is not None and self._recording.episode_id == episode_id \
                    and self._recording.started_at is not None:
                return  # the reply and the event both say so
            self._recording = Recording(episode_id, task, now)
            self._started.add(episode_id)

    def episode_ended(self, now: float, episode_id: str, outcome: str, bag_path: str = "",
                      detected_drops: int | None = None) -> None:
        with self._lock:
            if self._recording is not None and self._recording.episode_id == episode_id:
                self._recording = None
            previous = self._ended if self._ended is not None and self._ended.episode_id == episode_id else None
            self._ended = Ended(episode_id, outcome, previous.ended_at if previous else now,
                                bag_path or (previous.bag_path if previous else ""),
                                detected_drops if detected_drops is not None else
                                (previous.detected_drops if previous else None))
            self._outcomes[episode_id] = outcome

    def episode_relabelled(self, episode_id: str, outcome: str) -> None:
        with self._lock:
            if episode_id in self._outcomes or (self._ended and self._ended.episode_id == episode_id):
                self._outcomes[episode_id] = outcome
            if self._ended is not None and self._ended.episode_id == episode_id:
                self._ended = Ended(episode_id, outcome, self._ended.ended_at, self._ended.bag_path,
                                    self._ended.detected_drops)

    def policy_chunk(self, now: float, inference_latency_s: float, age_s: float | None, policy_id: str) -> None:
        with self._lock:
            self._chunk = (now, inference_latency_s, age_s, policy_id)

    def diagnostic(self, now: float, name: str, message: str, values: dict[str, str]) -> None:
        """One /diagnostics status ("<node>: <what>"); its values are merged per node (text, as sent)."""
        node = name.split(":", 1)[0].strip()
        if node not in (RECORDER_NODE, POLICY_NODE, ARBITRATION_NODE):
            return
        with self._lock:
            _, merged = self._diagnostics.get(node, (now, {}))
            self._diagnostics[node] = (now, {**merged, **values, f"{name}.message": message})

    def set_control(self, owner: bool, owner_id: str | None, observer: bool, listening: bool) -> None:
        with self._lock:
            self._owner = owner
            if owner:
                self._control = "in control"
            elif observer:
                self._control = "observer (read-only)"
            elif owner_id:
                self._control = f"read-only: console {owner_id} is in control"
            else:
                self._control = "read-only: checking for another console" if listening else "read-only"

    def tell(self, text: str) -> None:
        with self._lock:
            self._messages.appendleft(text)
        self._log(text)

    # Actions --------------------------------------------------------------------------------------------
    def plan(self, action: Action, now: float) -> Request | None:
        """The request for `action` if its preconditions hold (marked pending), else None (operator told)."""
        with self._lock:
            request = self._check(action, now)
            if isinstance(request, str):
                self.tell(f"{action.value} refused: {request}")
                return None
            if request.channel is not None:
                self._pending[request.channel] = (request, now)
            return request

    def _check(self, action: Action, now: float) -> Request | str:
        if action is Action.QUIT:
            return Quit()
        if action is Action.ESTOP:  # from any console, in control or not: safety before ownership
            return SetEstop(True)
        if not self._owner:
            return self._control
        channel = {Action.TAKEOVER: TAKEOVER, Action.HOME: SIM}.get(action, RECORDER)
        if channel in self._pending:
            return f"waiting for {channel} to answer the previous request"
        rec = self._recording
        if action is Action.START:
            if rec is not None:
                return f"episode {rec.episode_id} is recording: stop it first ({self._stop_keys()})"
            if self._estop:
                return f"the e-stop is engaged: release it first ('{KEY_OF[Action.RELEASE_ESTOP]}')"
            return StartEpisode(self.config.task_prompt)
        if action in LABEL_OF:
            return self._label(LABEL_OF[action], now)
        if action is Action.TAKEOVER:
            if self._iv is None:
                return "no /intervention_state yet: is the arbitration node running?"
            if now - self._iv_at > self.config.state_timeout_s:
                return f"the arbitration node is silent: no /intervention_state for {now - self._iv_at:.0f} s"
            return SetTakeover(not self._iv[0])
        if action is Action.RELEASE_ESTOP:
            return SetEstop(False) if self._estop else "the e-stop is not engaged"
        if action is Action.HOME:
            if rec is not None:
                return f"episode {rec.episode_id} is recording: stop it first ({self._stop_keys()})"
            return ResetHome(self.config.home_seed)
        raise AssertionError(f"unhandled action {action}")

    def _label(self, outcome: str, now: float) -> Request | str:
        if self._recording is not None:
            return EndEpisode(self._recording.episode_id, outcome)
        ended = self._ended
        if ended is None:
            return "no episode to label: none is recording and none has ended since this console started"
        if now - ended.ended_at > self.config.relabel_window_s:
            return (f"episode {ended.episode_id} ended {now - ended.ended_at:.0f} s ago (relabel window "
                    f"{self.config.relabel_window_s:.0f} s): relabel it with `recap episodes label`")
        if ended.outcome == outcome:
            return f"episode {ended.episode_id} is already labelled {outcome}"
        return RelabelEpisode(ended.episode_id, outcome)

    @staticmethod
    def _stop_keys() -> str:
        return ", ".join(f"'{KEY_OF[a]}' {LABEL_OF[a]}" for a in LABEL_OF)

    # Replies ------------------------------------------------------------------------------------------
    def replied(self, request: Request, now: float, accepted: bool, message: str, episode_id: str = "",
                bag_path: str = "", detected_drops: int | None = None) -> None:
        """The service's answer to `request` (accepted False with the reason on refusal or failure)."""
        with self._lock:
            if request.channel is not None and self._pending.get(request.channel, (None,))[0] == request:
                del self._pending[request.channel]
            if not accepted:
                self.tell(f"{describe(request)} failed: {message}")
                return
            if isinstance(request, StartEpisode):
                self.episode_started(now, episode_id, request.task)
                self.tell(f"episode {episode_id} started" + (f" ({message})" if message else ""))
            elif isinstance(request, EndEpisode):
                self.episode_ended(now, request.episode_id, request.outcome, bag_path, detected_drops)
                drops = "" if detected_drops is None else f"; {detected_drops} dropped messages"
                self.tell(f"episode {request.episode_id} ended: {request.outcome}{drops} -> {bag_path}")
            elif isinstance(request, RelabelEpisode):
                self.episode_relabelled(request.episode_id, request.outcome)
                self.tell(message)
            else:
                self.tell(message or f"{describe(request)} done")

    def expire(self, now: float) -> list[Request]:
        """Requests whose service has not answered within service_timeout_s (reported, no longer pending)."""
        with self._lock:
            late = [(ch, r) for ch, (r, at) in self._pending.items() if now - at > self.config.service_timeout_s]
            for channel, request in late:
                del self._pending[channel]
                self.tell(f"{describe(request)}: no answer from {channel} within {self.config.service_timeout_s:.0f} s")
            return [r for _, r in late]

    # View ---------------------------------------------------------------------------------------------
    def view(self, now: float) -> ConsoleView:
        with self._lock:
            mode, detail, count = self._mode(now)
            rec = self._recording
            counts = {o: sum(1 for v in self._outcomes.values() if v == o) for o in OUTCOMES}
            return ConsoleView(
                mode=mode, mode_detail=detail, interventions=count, in_control=self._owner,
                control=self._control, recording=rec,
                elapsed_s=None if rec is None or rec.started_at is None else now - rec.started_at,
                episodes_started=len(self._started), outcome_counts=counts, last_ended=self._ended,
                estop=self._estop, policy=self._policy_line(now), recorder=self._recorder_line(now),
                latency=self._latency_line(now), watchdog=self._watchdog_line(now),
                pending=tuple(sorted(self._pending)), messages=tuple(self._messages))

    def _mode(self, now: float) -> tuple[Mode, str, int]:
        if self._iv is None:
            return (Mode.HOLD if self._estop else Mode.UNKNOWN,
                    "no /intervention_state yet: is the arbitration node running?", 0)
        human, source, detail, _, count = self._iv
        age = now - self._iv_at
        if age > self.config.state_timeout_s:
            return Mode.UNKNOWN, f"arbitration node silent for {age:.0f} s (last: {detail})", count
        if self._estop or source == Source.SAFETY:
            return Mode.HOLD, detail if source == Source.SAFETY else "e-stop engaged", count
        return (Mode.HUMAN if human else Mode.POLICY), detail, count

    def _policy_line(self, now: float) -> str:
        if self._chunk is None:
            return "no action chunk yet"
        at, latency, age, policy_id = self._chunk
        silent = now - at
        if silent > self.config.policy_timeout_s:
            return f"silent for {silent:.1f} s (last chunk from {policy_id or '?'})"
        age_text = "" if age is None else f", chunk age at arrival {age * 1e3:.0f} ms"
        return f"{policy_id or '?'}: inference {latency * 1e3:.0f} ms{age_text}"

    def _values(self, node: str, now: float) -> dict[str, str] | str:
        """The node's latest status values, or why there are none."""
        if node not in self._diagnostics:
            return f"no /diagnostics from {node}"
        at, values = self._diagnostics[node]
        if now - at > self.config.state_timeout_s:
            return f"{node} silent on /diagnostics for {now - at:.0f} s"
        return values

    def _recorder_line(self, now: float) -> str:
        v = self._values(RECORDER_NODE, now)
        if isinstance(v, str):
            return v
        total = f"{v.get('episodes_recorded', '?')} episodes recorded in {v.get('bag_dir', '?')}"
        if v.get("recording") != "true":
            return f"idle, {total}"
        elapsed = v.get("episode_elapsed_s")
        clock = "?" if elapsed is None else f"{int(float(elapsed)) // 60:02d}:{int(float(elapsed)) % 60:02d}"
        return f"recording {v.get('episode_id', '?')} {clock}, {v.get('drops', '?')} drops; {total}"

    def _latency_line(self, now: float) -> str:
        v = self._values(POLICY_NODE, now)
        if isinstance(v, str):
            return v
        if "latency_p50_ms" not in v:
            return "no chunk measured yet"
        rate = v.get("command_rate_hz")
        return (f"p50 {float(v['latency_p50_ms']):.0f} ms, p99 {float(v.get('latency_p99_ms', 'nan')):.0f} ms"
                + (f", {float(rate):.0f} commands/s" if rate is not None else ""))

    def _watchdog_line(self, now: float) -> str:
        v = self._values(ARBITRATION_NODE, now)
        if isinstance(v, str):
            return v
        watchdog = v.get("watchdog", "?")
        return "ok" if watchdog == "ok" else f"HOLD: {watchdog}"
