"""The small bag player: a recorded episode goes back onto the graph with /clock, faster than 1x."""
from __future__ import annotations

import pytest
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState

pytestmark = pytest.mark.integration

from converter.bagfactory import BagSpec, write_rosbags


def test_player_publishes_recorded_bytes_and_clock(ros_node, start_process, tmp_path):
    bag = write_rosbags(tmp_path / "ep", BagSpec(steps=25))
    # best-effort subscriber on the sensor topic, as the policy node subscribes
    images = ros_node.collect(Image, "/cam_high/image_raw", qos_profile_sensor_data)
    cmds = ros_node.collect(JointState, "/executed_command", 100)
    clock = ros_node.collect(Clock, "/clock", 100)
    proc = start_process("recap_recorder.bag_player_node", str(bag), "--rate", "4",
                         "--wait-for", "/executed_command", "/clock", "/cam_high/image_raw")
    assert proc.wait(60.0) == 0, proc.log()
    # reliable topic: every message arrives, in order, with the recorded content
    got = cmds.wait_for(25, timeout=10.0)
    assert [m.position[0] for m in got] == [float(k) for k in range(25)]
    assert got[3].header.stamp.sec == 1_700_000_000 and got[3].header.stamp.nanosec == 60_000_000
    # /clock follows the bag's receive times (T0 - 1 ns .. last command at T0 + 480 ms) on a 10 ms grid
    ticks = clock.wait_for(49, timeout=10.0)
    ns = [c.clock.sec * 10**9 + c.clock.nanosec for c in ticks]
    assert ns[0] == 1_700_000_000 * 10**9 - 1 and all(b - a == 10_000_000 for a, b in zip(ns, ns[1:]))
    frames = images.wait_for(1, timeout=10.0)
    assert (frames[0].height, frames[0].width, frames[0].encoding) == (48, 64, "rgb8")
