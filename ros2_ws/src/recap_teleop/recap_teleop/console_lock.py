"""Which of several running consoles is in control, ROS-free.

Every console publishes a claim (its id, whether it is in control and for how long) every
heartbeat on a latched topic and hears the others'. A claim not heard for `timeout_s` is gone (its
console quit or lost the network). Receive times and tenures are each console's own monotonic
clock, so machines' clocks never have to agree. The rules:
- a console in control stays in control while it lives: a newcomer never takes over;
- a newcomer listens for `timeout_s` before it may take control (it hears a live owner's latched
  claim at once and its heartbeats well within that time);
- without a live owner, the console with the smallest id among the live ones not observing takes
  control (a deterministic choice; none of them needs to be first);
- two owners (a newcomer that heard nobody within its listening time because discovery was slow,
  two consoles started at the same instant, a healed network split): the one in control longer by
  more than `margin` keeps it, so a late-discovered owner is not displaced by the newcomer;
  otherwise, or when two owners persist past `timeout_s` (tenures estimated across the network
  can disagree near the margin), the smaller id keeps control.
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
    tenure_s: float = 0.0  # seconds in control when sent (0 when not in control)

    def encode(self) -> str:
        return json_dumps({"id": self.console_id, "owner": self.owner, "observer": self.observer,
                           "tenure_s": round(self.tenure_s, 3)}, indent=None)

    @classmethod
    def decode(cls, text: str) -> "Claim":
        """A claim from its JSON text; ValueError naming the text when it is not one."""
        try:
            data = json.loads(text)
            tenure = float(data.get("tenure_s", 0.0))
            if not 0.0 <= tenure < float("inf"):
                raise ValueError(f"tenure_s must be a finite number >= 0, got {tenure}")
            return cls(str(data["id"]), bool(data["owner"]), bool(data.get("observer", False)), tenure)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a console claim: {text[:80]!r} ({exc})") from None


class ConsoleLock:
    def __init__(self, console_id: str, started_at: float, timeout_s: float, observer: bool = False,
                 margin_s: float | None = None) -> None:
        """`margin_s`: how much longer in control one of two owners must be to keep control over a
        smaller id (default a quarter of `timeout_s`: one heartbeat for the console node), well
        above the error of a tenure estimated across the network (its latency)."""
        if not timeout_s > 0:
            raise ValueError(f"the console lock timeout must be positive, got {timeout_s}")
        self.console_id = console_id
        self.observer = observer
        self.owner = False
        self._started_at = started_at
        self._timeout = timeout_s
        self._margin = timeout_s / 4 if margin_s is None else margin_s
        self._owner_since: float | None = None
        self._contested_since: float | None = None  # first update seeing another owner while in control
        self._heard: dict[str, tuple[Claim, float]] = {}  # console id -> (latest claim, receive time)

    def heard(self, claim: Claim, now: float) -> None:
        if claim.console_id != self.console_id:  # our own claim comes back on the topic too
            self._heard[claim.console_id] = (claim, now)

    def listening(self, now: float) -> bool:
        """Still in the first `timeout_s`, when a newcomer may not take control yet."""
        return now - self._started_at < self._timeout

    def live_others(self, now: float) -> list[Claim]:
        return [c for c, at in self._heard.values() if now - at <= self._timeout]

    def tenure(self, now: float) -> float:
        """Seconds this console has been in control (0 when it is not)."""
        return now - self._owner_since if self.owner and self._owner_since is not None else 0.0

    def update(self, now: float) -> bool:
        """Recompute whether this console is in control; True when it is."""
        was_owner = self.owner
        others = self.live_others(now)
        if self.observer:
            self.owner = False
        elif self.owner:
            rivals = [(c.console_id, tenure) for c, tenure in self._live_owners(now)]
            if not rivals:
                self._contested_since = None
            elif self._contested_since is None:
                self._contested_since = now
            by_id = self._contested_since is not None and now - self._contested_since > self._timeout
            self.owner = all(self._keeps_against(rival, tenure, now, by_id) for rival, tenure in rivals)
        elif not any(c.owner for c in others) and not self.listening(now):
            candidates = [c.console_id for c in others if not c.observer]
            self.owner = all(self.console_id < c for c in candidates)
        if self.owner and not was_owner:
            self._owner_since = now
        if not self.owner:
            self._owner_since = self._contested_since = None
        return self.owner

    def owner_id(self, now: float) -> str | None:
        """The console in control: this one's id, another's (the longest in control), or None while
        nobody is."""
        if self.owner:
            return self.console_id
        owners = sorted(self._live_owners(now), key=lambda item: (-item[1], item[0].console_id))
        return owners[0][0].console_id if owners else None

    def claim(self, now: float) -> Claim:
        return Claim(self.console_id, self.owner, self.observer, self.tenure(now))

    def _live_owners(self, now: float) -> list[tuple[Claim, float]]:
        """Other live owners with their tenure now: as claimed, plus the time since it was heard."""
        return [(c, c.tenure_s + (now - at)) for c, at in self._heard.values()
                if c.owner and now - at <= self._timeout]

    def _keeps_against(self, rival_id: str, rival_tenure: float, now: float, by_id: bool) -> bool:
        mine = self.tenure(now)
        if not by_id and abs(mine - rival_tenure) > self._margin:
            return mine > rival_tenure
        return self.console_id < rival_id
