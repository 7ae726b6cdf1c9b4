"""Graphs started by recap-bringup: each in its own ROS domain, and stopped at once (with the node's
own message) when a node exits while the graph comes up."""
import os
import re
import signal
import subprocess
import sys

import pytest

from recap_bringup.graph import NodeSpec
from recap_bringup.graph_session import GraphSession, GraphStopped
from recap_bringup.runner import main as runner_main
from ros_harness import SpinningNode, wait_until

pytestmark = pytest.mark.integration

JOINTS = "/follower_left/joint_states"


class Runner:
    """`recap-bringup transfer_cube` (sim and arbitration only) as a process, its output in a file."""

    def __init__(self, tmp_path, name: str, env: dict[str, str]) -> None:
        self.log_path = tmp_path / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "recap_bringup.runner", "transfer_cube",
                                      "--record", "false", "--operator", "false", "--startup-timeout", "60"],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def output(self) -> str:
        return self.log_path.read_text()

    def domain(self) -> int:
        wait_until(lambda: "in ROS domain" in self.output() or self.proc.poll() is not None, 60,
                   "the runner to name its domain")
        match = re.search(r"in ROS domain (\d+) \(free on this machine\)", self.output())
        assert match, self.output()
        return int(match.group(1))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def test_two_graphs_on_one_machine_each_get_a_free_domain_and_do_not_see_each_other(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ROS_DOMAIN_ID"}
    first = Runner(tmp_path, "first", env)
    second = None
    try:
        first_domain = first.domain()
        with SpinningNode("observer_first", domain_id=first_domain) as observer_first:
            observer_first.wait_for_publishers(JOINTS, timeout=60)
            # The first graph's nodes now hold their domain's ports: the second must choose another.
            second = Runner(tmp_path, "second", env)
            second_domain = second.domain()
            assert second_domain != first_domain
            with SpinningNode("observer_second", domain_id=second_domain) as observer_second:
                observer_second.wait_for_publishers(JOINTS, timeout=60)
                assert observer_first.node.count_publishers(JOINTS) == 1
                assert observer_second.node.count_publishers(JOINTS) == 1
    finally:
        codes = [runner.stop() for runner in (first, second) if runner]
    assert codes == [0, 0], first.output() + (second.output() if second else "")


def test_a_node_that_exits_at_startup_stops_the_graph_with_its_own_message(tmp_path, capsys):
    from recap_bringup.ros_domain import free_domain_id

    code = runner_main(["transfer_cube", "--checkpoint", str(tmp_path / "missing"), "--record", "false",
                        "--operator", "false", "--startup-timeout", "60", "--domain-id", str(free_domain_id()),
                        "--log-dir", str(tmp_path / "logs")])
    captured = capsys.readouterr()
    assert code == 1
    assert "a node exited during startup" in captured.err
    assert "policy_node exited with code 2" in captured.err
    assert "policy_node: cannot start:" in captured.err and str(tmp_path / "missing") in captured.err
    # The graph stopped before the startup check's verdict: no warning about the missing publisher.
    assert "nothing publishes" not in captured.out + captured.err


def test_graph_session_stops_when_a_node_exits_at_startup_and_shows_its_output(tmp_path):
    crasher = NodeSpec("x", "x", "processes.exit_with_code", "crasher", {"code": 3},
                       required_topics=("/nobody/publishes/this",))
    with pytest.raises(GraphStopped) as stopped:
        with GraphSession([crasher], tmp_path / "logs", startup_timeout_s=60.0):
            pass
    message = str(stopped.value)
    assert "crasher exited with code 3" in message and "exiting with 3" in message
    assert "nothing publishes" not in message
