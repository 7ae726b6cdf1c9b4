"""The operator's inputs to the console, ROS-free: the actions, the key map and the Joy button map.

A sensor_msgs/Joy device (pedal, gamepad) maps button indices to actions; a press (rising edge)
triggers the action once, however long the button is held. A pedal is one button: `joy.takeover`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Action(Enum):
    START = "start episode"
    SUCCESS = "stop + label success"
    FAILURE = "stop + label failure"
    ABORT = "abort episode"
    TAKEOVER = "take over / hand back"
    ESTOP = "e-stop (hold the arms)"
    RELEASE_ESTOP = "release the e-stop"
    HOME = "reset to home"
    QUIT = "quit the console"


# One key per action; lower case, so Caps Lock is the only way to miss one (upper case maps too).
KEYS: dict[str, Action] = {
    "s": Action.START, "y": Action.SUCCESS, "n": Action.FAILURE, "a": Action.ABORT,
    "t": Action.TAKEOVER, "e": Action.ESTOP, "u": Action.RELEASE_ESTOP, "h": Action.HOME, "q": Action.QUIT,
}
KEY_OF = {action: key for key, action in KEYS.items()}


def action_for_key(key: str) -> Action | None:
    """The action of a pressed key (case-insensitive; space is the e-stop too: the biggest key)."""
    if key == " ":
        return Action.ESTOP
    return KEYS.get(key.lower()) if len(key) == 1 else None


# Actions a Joy button can trigger, by parameter suffix (`joy.<name>`). Release of the e-stop and
# quitting are keyboard-only: a bumped gamepad must never release a hold.
JOY_ACTIONS: dict[str, Action] = {
    "start": Action.START, "success": Action.SUCCESS, "failure": Action.FAILURE, "abort": Action.ABORT,
    "takeover": Action.TAKEOVER, "estop": Action.ESTOP, "home": Action.HOME,
}
UNMAPPED = -1


@dataclass(frozen=True)
class JoyMap:
    """Joy button index per action; -1 = no button. The default is a one-button pedal for takeover."""

    start: int = UNMAPPED
    success: int = UNMAPPED
    failure: int = UNMAPPED
    abort: int = UNMAPPED
    takeover: int = 0
    estop: int = UNMAPPED
    home: int = UNMAPPED

    def __post_init__(self) -> None:
        seen: dict[int, str] = {}
        for name in JOY_ACTIONS:
            index = getattr(self, name)
            if not isinstance(index, int) or isinstance(index, bool) or index < UNMAPPED:
                raise ValueError(f"joy.{name} must be a button index >= 0 or -1 (unmapped), got {index!r}")
            if index == UNMAPPED:
                continue
            if index in seen:
                raise ValueError(f"joy.{name} and joy.{seen[index]} both use button {index}; one button, one action")
            seen[index] = name

    def buttons(self) -> dict[int, Action]:
        return {getattr(self, name): action for name, action in JOY_ACTIONS.items()
                if getattr(self, name) != UNMAPPED}


class JoyButtons:
    """Turns a stream of Joy button arrays into the actions of newly pressed buttons."""

    def __init__(self, joy_map: JoyMap) -> None:
        self.mapping = joy_map.buttons()  # button index -> action
        self._pressed: set[int] = set()

    def update(self, buttons: Sequence[int]) -> list[Action]:
        """Actions whose button went from released to pressed since the previous message. A button
        index beyond this device's array counts as released (a pedal has one button)."""
        pressed = {i for i in self.mapping if i < len(buttons) and buttons[i] != 0}
        fired = [self.mapping[i] for i in sorted(pressed - self._pressed)]
        self._pressed = pressed
        return fired
