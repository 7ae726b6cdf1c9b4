"""pytest plugin of the Python 3.12 run (`make test-py312`, .venv312: LeRobot, no ROS, no MuJoCo).

The suite-wide tests/conftest.py imports the ROS test harness for its node fixtures; a placeholder
harness lets it load. Test modules that import ROS, the simulator or rosbags are not collected
(read from their imports), so the run holds exactly the ROS-free tests of the listed directories.
"""
from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

NEEDS_ROS = {"rclpy", "ros_harness", "rosbags", "mujoco", "recap_sim", "recap_lab", "recap_policy",
             "recap_bringup", "recap_recorder", "recap_teleop", "recap_msgs", "converter"}


def _unavailable(*args, **kwargs):
    raise RuntimeError("ROS is not installed in the Python 3.12 environment (.venv312)")


harness = types.ModuleType("ros_harness")
harness.NodeProcess = harness.SpinningNode = _unavailable
sys.modules.setdefault("ros_harness", harness)


def imports(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return True if imports(collection_path) & NEEDS_ROS else None
    return None
