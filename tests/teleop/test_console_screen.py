"""The console's screen lines (no terminal needed)."""
from __future__ import annotations

from recap_teleop.console_input import Action
from recap_teleop.console_requests import EndEpisode, StartEpisode
from recap_teleop.console_state import ConsoleConfig, ConsoleModel
from recap_teleop.console_ui import pack, render_lines
from recap_teleop.takeover import Source


def test_screen_shows_mode_recording_estop_and_the_legend_within_the_width():
    model = ConsoleModel(ConsoleConfig("transfer the cube"), 0.0)
    model.set_control(True, "me", observer=False, listening=False)
    model.replied(StartEpisode("transfer the cube"), 0.0, True, "", episode_id="ep-1")
    model.intervention(75.0, True, int(Source.PEDAL), "human in control (pedal)", "ep-1", 1)
    model.estop(True)
    lines = render_lines(model.view(75.0), {0: Action.TAKEOVER}, width=60)
    text = "\n".join(lines)
    assert "MODE: HOLD   e-stop engaged" in text and "E-STOP ENGAGED" in text
    assert "RECORDING: ep-1  01:15  task: transfer the cube" in text
    assert "joy: button 0  take over / hand back" in text
    legend = [line for line in lines if line.startswith("keys: ") or line.startswith("      ")]
    assert all(len(line) <= 59 for line in legend) and len(legend) > 1


def test_last_episode_line_says_when_drops_are_unknown():
    model = ConsoleModel(ConsoleConfig("t"), 0.0)
    model.replied(EndEpisode("ep-2", "failure"), 1.0, True, "", bag_path="/remote/ep-2")
    assert "last episode: ep-2 failure, drops unknown (bag not on this machine)  /remote/ep-2" in \
        render_lines(model.view(2.0), {})


def test_pack_never_splits_an_item():
    assert pack("k: ", ["aaaa", "bbbb", "cccc"], 16) == ["k: aaaa | bbbb", "   cccc"]
