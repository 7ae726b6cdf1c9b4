"""Measure the sim node's publish rates over real DDS (not a test: numbers for docs/SIM_NODE.md).

    python tests/sim_node/measure_sim_rates.py --seconds 10

Starts `python -m recap_sim.sim_node` for each configuration (physics only, then with cameras),
counts what arrives for `--seconds` of wall time and prints wall-clock and sim-time rates and the
achieved real-time factor (sim seconds per wall second). The physics-only run is the baseline the
camera runs are compared with.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the harness
from ros_harness import SpinningNode  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402

from recap_msgs.msg import TaskState  # noqa: E402

TOPICS = [("/clock", Clock, 10), ("/follower_left/joint_states", JointState, qos_profile_sensor_data),
          ("/sim/object_state", JointState, qos_profile_sensor_data),
          ("/cam_high/image_raw", Image, qos_profile_sensor_data),
          ("/cam_right_wrist/image_raw", Image, qos_profile_sensor_data),
          ("/sim/task_state", TaskState, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                                   durability=DurabilityPolicy.TRANSIENT_LOCAL))]


def measure(name: str, params: dict, seconds: float, domain: int) -> dict:
    args = [sys.executable, "-m", "recap_sim.sim_node", "--ros-args"]
    for k, v in params.items():
        args += ["-p", f"{k}:={v}"]
    with SpinningNode("measure_sim_rates", domain_id=domain) as node, tempfile.TemporaryFile() as log:
        collectors = {t: node.collect(m, t, q) for t, m, q in TOPICS}
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "ROS_DOMAIN_ID": str(domain)})
        try:
            collectors["/clock"].wait_for(10, timeout=60.0)  # started and matched
            counts0 = {t: len(c.messages) for t, c in collectors.items()}
            clock0 = collectors["/clock"].messages[-1].clock
            t0 = time.monotonic()
            time.sleep(seconds)  # a measurement window, not synchronisation
            wall = time.monotonic() - t0
            counts = {t: len(c.messages) - counts0[t] for t, c in collectors.items()}
            clock1 = collectors["/clock"].messages[-1].clock
        finally:
            proc.send_signal(subprocess.signal.SIGINT)
            proc.wait(timeout=20)
    sim = (clock1.sec - clock0.sec) + (clock1.nanosec - clock0.nanosec) * 1e-9
    print(f"\n== {name}: {params}")
    print(f"   wall {wall:.1f} s, sim {sim:.1f} s -> real-time factor {sim / wall:.2f}")
    for topic, n in counts.items():
        print(f"   {topic:32s} {n / wall:7.1f} Hz wall  {n / sim if sim else 0:7.1f} Hz sim")
    return {"rtf": sim / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="wall seconds per configuration")
    parser.add_argument("--task", default="espresso")
    parser.add_argument("--domain", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "42")))
    a = parser.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, {platform.platform()}, "
          f"load average {os.getloadavg()[0]:.2f}, MUJOCO_GL={os.environ.get('MUJOCO_GL')}")
    base = {"task": a.task, "real_time_factor": 1.0}
    runs = [("physics only, rtf 1", {**base, "cameras": "['none']"}),
            ("physics only, as fast as possible", {**base, "cameras": "['none']", "real_time_factor": 0.0}),
            ("3 cameras 160x120 @10 Hz, rtf 1", {**base, "image_width": 160, "image_height": 120}),
            ("3 cameras 320x240 @10 Hz, as fast as possible",
             {**base, "image_width": 320, "image_height": 240, "real_time_factor": 0.0})]
    results = {name: measure(name, params, a.seconds, a.domain) for name, params in runs}
    fast = results["physics only, as fast as possible"]["rtf"]
    cams = results["3 cameras 320x240 @10 Hz, as fast as possible"]["rtf"]
    print(f"\ncameras cost: as-fast-as-possible real-time factor {cams:.2f} vs {fast:.2f} physics only "
          f"(ratio {cams / fast:.3f})")


if __name__ == "__main__":
    main()
