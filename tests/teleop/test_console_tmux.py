"""`recap-console` in a real terminal: a detached tmux session (its own server socket), keys sent
with send-keys, the screen read with capture-pane."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import pytest
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from recap_msgs.msg import InterventionState
from ros_harness import wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("tmux") is None,
                                 reason="tmux is not installed (apt-get install -y tmux): the console's terminal "
                                        "test needs it")]

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class Tmux:
    def __init__(self, socket: str) -> None:
        self.base = ["tmux", "-L", socket, "-f", "/dev/null"]

    def __call__(self, *args: str, check: bool = True) -> str:
        return subprocess.run([*self.base, *args], check=check, capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "console", check=False)

    def alive(self) -> bool:
        return subprocess.run([*self.base, "has-session", "-t", "console"], capture_output=True).returncode == 0


@pytest.fixture
def tmux(tmp_path):
    server = Tmux(f"recap-console-test-{os.getpid()}")
    yield server
    server("kill-server", check=False)  # only this test's server (its own socket)


def console_command(log_file) -> str:
    script = shutil.which("recap-console")  # the installed entry point (source scripts/env.sh)
    argv = [script] if script else [sys.executable, "-m", "recap_teleop.console_ui"]
    return shlex.join([*argv, "--task", "transfer the cube", "--log-file", str(log_file),
                       "--ros-args", "-p", "lock_heartbeat_s:=0.1"])


def test_console_shows_the_mode_reacts_to_keys_redraws_on_resize_and_quits(tmux, ros_node, tmp_path):
    state = ros_node.node.create_publisher(InterventionState, "/intervention_state", LATCHED)
    msg = InterventionState(human_in_control=True, source=InterventionState.SOURCE_PEDAL,
                            detail="human in control (pedal)")
    state.publish(msg)
    ros_node.node.create_timer(0.5, lambda: state.publish(msg))  # as the arbitration node republishes
    log_file = tmp_path / "console.log"
    tmux("new-session", "-d", "-s", "console", "-x", "100", "-y", "30", console_command(log_file))

    def shows(text: str):
        return lambda: text in tmux.screen()

    wait_until(shows("MODE: HUMAN   human in control (pedal)"), 30.0, "the mode on the screen")
    wait_until(shows("RECAP console - in control"), 10.0, "the console taking control")
    assert "s  start episode" in tmux.screen()

    tmux("send-keys", "-t", "console", "y")
    wait_until(shows("stop + label success refused: no episode to label"), 10.0, "the refusal of a label")
    tmux("send-keys", "-t", "console", "e")
    wait_until(shows("E-STOP ENGAGED"), 10.0, "the e-stop on the screen")

    tmux("resize-window", "-t", "console", "-x", "60", "-y", "30")
    wait_until(lambda: "keys: s  start episode | y  stop + label success\n" in tmux.screen() + "\n", 10.0,
               f"the legend re-wrapped to 60 columns "
               f"({tmux('display', '-p', '-t', 'console', '#{window_width}x#{window_height}')}):\n{tmux.screen()}")
    assert all(len(line) < 60 for line in tmux.screen().splitlines())

    tmux("send-keys", "-t", "console", "q")
    wait_until(lambda: not tmux.alive(), 10.0, "the console to quit on 'q'")
    assert "Traceback" not in log_file.read_text()
