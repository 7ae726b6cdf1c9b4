"""Keys and Joy buttons -> console actions (ROS-free)."""
from __future__ import annotations

import pytest

from recap_teleop.console_input import KEYS, Action, JoyButtons, JoyMap, action_for_key


def test_every_action_has_a_key_and_keys_ignore_case():
    assert set(KEYS.values()) == set(Action)
    assert action_for_key("s") is Action.START and action_for_key("S") is Action.START
    assert action_for_key(" ") is Action.ESTOP
    assert action_for_key("z") is None and action_for_key("") is None


def test_default_joy_map_is_a_takeover_pedal():
    assert JoyMap().buttons() == {0: Action.TAKEOVER}


def test_a_press_fires_once_however_long_it_is_held():
    joy = JoyButtons(JoyMap(start=3, success=1, takeover=0))
    assert joy.update([0, 0, 0, 1]) == [Action.START]
    assert joy.update([0, 0, 0, 1]) == []  # held
    assert joy.update([1, 1, 0, 1]) == [Action.TAKEOVER, Action.SUCCESS]
    assert joy.update([0, 0, 0, 0]) == []  # released
    assert joy.update([1, 0, 0, 0]) == [Action.TAKEOVER]  # pressed again


def test_a_button_beyond_the_device_counts_as_released():
    joy = JoyButtons(JoyMap(takeover=0, estop=5))
    assert joy.update([1]) == [Action.TAKEOVER]  # a one-button pedal; button 5 does not exist
    assert joy.update([]) == []


def test_joy_map_refuses_a_shared_button_and_bad_indices():
    with pytest.raises(ValueError, match="joy.success and joy.start both use button 2"):
        JoyMap(start=2, success=2)
    with pytest.raises(ValueError, match=r"joy.estop must be a button index >= 0 or -1 \(unmapped\), got -2"):
        JoyMap(estop=-2)
