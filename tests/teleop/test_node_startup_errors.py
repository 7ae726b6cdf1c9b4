"""Nodes refuse a bad configuration with one clear line and exit code 2, not a traceback."""
import pytest

pytestmark = pytest.mark.integration


def test_interbotix_adapter_without_its_messages_exits_cleanly(start_process):
    proc = start_process("recap_teleop.arbitration_node", "--ros-args", "-p", "robot:=aloha")
    assert proc.wait(timeout=60) == 2
    log = proc.log()
    assert ("arbitration_node: cannot start: arbitration_node failed to configure: the interbotix command adapter "
            "needs the interbotix_xs_msgs package") in log
    assert "Traceback" not in log


def test_an_unknown_robot_exits_cleanly_with_the_closest_name(start_process):
    proc = start_process("recap_teleop.arbitration_node", "--ros-args", "-p", "robot:=alhoa_sim")
    assert proc.wait(timeout=60) == 2
    log = proc.log()
    assert "unknown robot 'alhoa_sim': did you mean 'aloha_sim'?" in log and "Traceback" not in log


def test_policy_node_with_a_missing_checkpoint_exits_cleanly(start_process, tmp_path):
    proc = start_process("recap_policy.policy_node", "--ros-args", "-p", f"checkpoint:={tmp_path / 'none'}")
    assert proc.wait(timeout=60) == 2
    log = proc.log()
    line = next(line for line in log.splitlines() if line.startswith("policy_node: cannot start:"))
    assert "policy_node failed to configure" in line and str(tmp_path / "none") in line
    assert "Traceback" not in log
