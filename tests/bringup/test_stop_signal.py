"""`kill`, `docker stop` and `systemctl stop` send SIGTERM: the soak (and the loop, which shares the
handler) must stop its nodes instead of leaving them running as orphans, and report what it did."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from policy.tiny_checkpoint import write_tiny_checkpoint
from recap_bringup.termination import INTERRUPTED_EXIT_CODE

pytestmark = pytest.mark.integration


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


def test_sigterm_stops_the_soak_its_nodes_and_writes_the_report(tmp_path):
    checkpoint = write_tiny_checkpoint(tmp_path / "policy")
    out = tmp_path / "soak"
    soak = subprocess.Popen([sys.executable, "-m", "recap_bringup.runner", "soak", "--checkpoint", str(checkpoint),
                             "--task", "transfer_cube", "--duration", "600", "--sample-period", "1", "--warmup", "0", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    try:
        # An episode's bag file exists once the whole graph is up and recording.
        wait_for(lambda: any((out / "bags").glob("*/*.mcap")), 120, "the first episode's bag")
        nodes = psutil.Process(soak.pid).children(recursive=True)
        assert len(nodes) >= 4, f"expected the deployed graph's node processes, found {nodes}"
        soak.send_signal(signal.SIGTERM)
        output, _ = soak.communicate(timeout=90)
    finally:
        if soak.poll() is None:
            soak.kill()
    assert soak.returncode == INTERRUPTED_EXIT_CODE, output
    assert "interrupted after" in output
    assert (out / "SOAK.md").is_file()
    alive = [p for p in nodes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"node processes left running: {[p.cmdline() for p in alive]}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "systemd-stop"])
def test_a_signal_to_the_whole_group_stops_the_graph_once_and_cleanly(tmp_path, domain_id, sig):
    """A terminal's Ctrl-C reaches the whole foreground process group, `systemctl stop` and `timeout`
    every process of the service: the runner alone stops its nodes, one SIGINT each, and no node gets
    a second signal in the middle of its shutdown (which ends it with a traceback, not cleanly)."""
    runner = subprocess.Popen([sys.executable, "-m", "recap_bringup.runner", "espresso", "--sim", "false",
                               "--robot", "single_arm_6dof", "--bag-dir", str(tmp_path / "bags"),
                               "--startup-timeout", "60", "--domain-id", str(domain_id)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        for line in runner.stdout:  # until both managed nodes are active
            lines.append(line)
            if sum("activate: now active" in seen for seen in lines) == 2:
                break
        else:
            raise AssertionError("the graph stopped before both managed nodes were active:\n" + "".join(lines)[-3000:])
        os.killpg(runner.pid, sig)
        lines += runner.stdout.readlines()
        assert runner.wait(timeout=60) == 0, "".join(lines)[-3000:]
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    output = "".join(lines)
    assert "activate: now active" in output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]
