"""Managed nodes over real DDS: the transition driver walks a node through configure and activate,
a lifecycle publisher is silent until activate and after deactivate, a failing configure reaches
the driver as the node's own message, and /diagnostics reports the lifecycle state in every state."""
from __future__ import annotations

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import Int32

from recap_core.diagnostics import Level
from recap_lifecycle.managed_node import from_message
from recap_lifecycle.transitions import TransitionError, drive_transitions

NODE = "managed_probe"


def lifecycle_state(msg: DiagnosticArray) -> str | None:
    for status in msg.status:
        if status.name == f"{NODE}: lifecycle":
            return from_message(status).values["state"]
    return None


def test_driven_node_publishes_only_while_active(start_process, ros_node, domain_id):
    diagnostics = ros_node.collect(DiagnosticArray, "/diagnostics")
    ticks = ros_node.collect(Int32, "/managed_probe/ticks")
    start_process("processes.managed_probe", "--ros-args", "-p", "autostart:=false")
    diagnostics.wait_for(1, timeout=30, predicate=lambda m: lifecycle_state(m) == "unconfigured")
    assert not ticks.messages  # nothing publishes before it is configured and activated

    drive_transitions([NODE], ("configure",), domain_id=domain_id)
    diagnostics.wait_for(1, timeout=10, predicate=lambda m: lifecycle_state(m) == "inactive")
    assert not ticks.messages  # configured but inactive: the lifecycle publisher stays silent

    drive_transitions([NODE], ("configure", "activate"), domain_id=domain_id)  # configure: already done
    ticks.wait_for(3, timeout=10)
    active = diagnostics.wait_for(1, timeout=10, predicate=lambda m: lifecycle_state(m) == "active")[-1]
    names = {s.name for s in active.status}
    assert f"{NODE}: ticks" in names  # the node's own statuses appear once configured

    drive_transitions([NODE], ("deactivate",), domain_id=domain_id)
    diagnostics.wait_for(1, timeout=10, predicate=lambda m: lifecycle_state(m) == "inactive")
    seen = len(ticks.messages)
    # A whole diagnostics period later, no tick has been published since the deactivation.
    count = len(diagnostics.messages)
    diagnostics.wait_for(count + 2, timeout=10)
    assert len(ticks.messages) == seen


def test_failing_configure_reaches_the_driver_with_the_nodes_message(start_process, ros_node, domain_id):
    diagnostics = ros_node.collect(DiagnosticArray, "/diagnostics")
    start_process("processes.managed_probe", "--ros-args", "-p", "autostart:=false",
                  "-p", "fail_configure:=the checkpoint /nowhere does not exist")
    diagnostics.wait_for(1, timeout=30, predicate=lambda m: lifecycle_state(m) == "unconfigured")
    with pytest.raises(TransitionError, match="managed_probe failed to configure: the checkpoint /nowhere"):
        drive_transitions([NODE], domain_id=domain_id)
    error = diagnostics.wait_for(1, timeout=10, predicate=lambda m: any(
        s.name == f"{NODE}: lifecycle" and from_message(s).level == Level.ERROR for s in m.status))[-1]
    assert "does not exist" in error.status[0].message


def test_autostart_failure_ends_the_process_with_the_message(start_process):
    proc = start_process("processes.managed_probe", "--ros-args", "-p", "fail_configure:=the checkpoint /nowhere does not exist")
    assert proc.wait(timeout=30) != 0
    assert "the checkpoint /nowhere does not exist" in proc.log()


def test_a_node_that_is_not_there_is_named(domain_id):
    with pytest.raises(TransitionError, match="no_such_node.*did not appear"):
        drive_transitions(["no_such_node"], domain_id=domain_id, timeout_s=1.0)


def test_the_driver_gives_up_when_asked_instead_of_waiting_out_its_timeout(domain_id):
    gave_up = r"no_such_node \(configure\): gave up waiting for /no_such_node/get_state"
    with pytest.raises(TransitionError, match=gave_up):
        drive_transitions(["no_such_node"], domain_id=domain_id, timeout_s=600.0, give_up=lambda: True)
