"""What the console asks of the stack: one frozen request per service call or publish (ROS-free).

`channel` groups the requests of one service: one request per channel is in flight at a time, so
a second press cannot race the first (None: a publish, never pending).
"""
from __future__ import annotations

from dataclasses import dataclass

RECORDER, TAKEOVER, SIM = "/recorder", "/takeover/set", "/sim/reset"
HOME = "/arbitration/home"  # std_srvs/Trigger of the arbitration node: ramp a real robot's arms home


@dataclass(frozen=True)
class StartEpisode:
    task: str
    channel = RECORDER


@dataclass(frozen=True)
class EndEpisode:
    episode_id: str
    outcome: str
    channel = RECORDER


@dataclass(frozen=True)
class RelabelEpisode:
    episode_id: str
    outcome: str
    channel = RECORDER


@dataclass(frozen=True)
class SetTakeover:
    human: bool
    channel = TAKEOVER


@dataclass(frozen=True)
class SetEstop:
    engaged: bool
    channel = None


@dataclass(frozen=True)
class ResetHome:
    """The sim resets to its task's start pose for `seed` (/sim/reset); a real robot's arms are ramped
    to the description's home pose (/arbitration/home) where no sim answers."""

    seed: int
    channel = SIM


@dataclass(frozen=True)
class Quit:
    channel = None


Request = StartEpisode | EndEpisode | RelabelEpisode | SetTakeover | SetEstop | ResetHome | Quit


def describe(request: Request) -> str:
    if isinstance(request, StartEpisode):
        return "start episode"
    if isinstance(request, EndEpisode):
        return f"end episode {request.episode_id} as {request.outcome}"
    if isinstance(request, RelabelEpisode):
        return f"relabel episode {request.episode_id} as {request.outcome}"
    if isinstance(request, SetTakeover):
        return "take over" if request.human else "hand back"
    if isinstance(request, ResetHome):
        return f"reset to home (seed {request.seed})"
    return type(request).__name__
