"""Which of several running consoles is in control, ROS-free.

Every console publishes a claim (its id, whether it is in control) every heartbeat on a latched
topic and hears the others'. A claim not heard for `timeout_s` is gone (its console quit or lost
the network). Receive times are the listener's own monotonic clock, so machines' clocks never
have to agree. The rules:
- a console in control stays in control while it lives: a newcomer never takes over;
- a newcomer listens for `timeout_s` before it may take control (it hears a live owner's latched
  claim at once and its heartbeats well within that time);
- without a live owner, the console with the smallest id among the live ones not observing takes
  control (a deterministic choice; none of them needs to be first);
- two owners (two consoles started at the same instant, or a healed network split): the one with
  the smaller id keeps control.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from recap_core.output_files import json_dumps


@dataclass(frozen=True)
class Claim:
    console_id: str
    owner: bool
    observer: bool = False  # never takes control (a read-only monitoring console)

    def encode(self) -> str:
        return json_dumps({"id": self.console_id, "owner": self.owner, "observer": self.observer}, indent=None)

    @classmethod
    def decode(cls, text: str) -> "Claim":
        """A claim from its JSON text; ValueError naming the text when it is not one."""
        try:
            data = json.loads(text)
            return cls(str(data["id"]), bool(data["owner"]), bool(data.get("observer", False)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a console claim: {text[:80]!r} ({exc})") from None


class ConsoleLock:
    def __init__(self, console_id: str, started_at: float, timeout_s: float, observer: bool = False) -> None:
        if not timeout_s > 0:
            raise ValueError(f"the console lock timeout must be positive, got {timeout_s}")
        self.console_id = console_id
        self.observer = observer
        self.owner = False
        self._started_at = started_at
        self._timeout = timeout_s
        self._heard: dict[str, tuple[Claim, float]] = {}  # console id -> (latest claim, receive time)

    def heard(self, claim: Claim, now: float) -> None:
        if claim.console_id != self.console_id:  # our own claim comes back on the topic too
            self._heard[claim.console_id] = (claim, now)

    def listening(self, now: float) -> bool:
        """Still in the first `timeout_s`, when a newcomer may not take control yet."""
        return now - self._started_at < self._timeout

    def live_others(self, now: float) -> list[Claim]:
        return [c for c, at in self._heard.values() if now - at <= self._timeout]

    def update(self, now: float) -> bool:
        """Recompute whether this console is in control; True when it is."""
        others = self.live_others(now)
        owners = [c.console_id for c in others if c.owner]
        if self.observer:
            self.owner = False
        elif self.owner:
            self.owner = not any(o < self.console_id for o in owners)
        elif not owners and not self.listening(now):
            candidates = [c.console_id for c in others if not c.observer]
            self.owner = all(self.console_id < c for c in candidates)
        return self.owner

    def owner_id(self, now: float) -> str | None:
        """The console in control: this one's id, another's, or None while nobody is."""
        if self.owner:
            return self.console_id
        owners = sorted(c.console_id for c in self.live_others(now) if c.owner)
        return owners[0] if owners else None

    def claim(self) -> Claim:
        return Claim(self.console_id, self.owner, self.observer)
