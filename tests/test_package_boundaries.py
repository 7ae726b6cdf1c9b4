"""The package graph, read from the imports: nothing imports upward (docs/ARCHITECTURE.md). A robot
PC runs the policy node with recap_model and never installs the trainer, the simulator, MuJoCo,
pyarrow or matplotlib; the trainer needs neither the simulator nor ROS; only the lab ties training,
simulation and the live graph together."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "ros2_ws" / "src"

# package -> the workspace packages and heavy libraries it may import (besides itself).
ALLOWED = {
    "recap_core": set(),
    "recap_model": {"recap_core"},
    "recap_lifecycle": {"recap_core"},
    "recap_policy": {"recap_model", "recap_lifecycle", "recap_core", "recap_msgs"},
    "recap_teleop": {"recap_lifecycle", "recap_core", "recap_msgs"},
    "recap_recorder": {"recap_lifecycle", "recap_core", "recap_msgs"},
    "recap_sim": {"recap_lifecycle", "recap_core", "recap_msgs"},
    "recap_trainer": {"recap_model", "recap_core"},
    "recap_bringup": {"recap_policy", "recap_teleop", "recap_recorder", "recap_sim", "recap_lifecycle", "recap_core",
                      "recap_msgs"},
    # The one place that ties training, simulation and the live graph together; nothing imports it.
    "recap_lab": {"recap_trainer", "recap_model", "recap_sim", "recap_bringup", "recap_core", "recap_msgs"},
}
WORKSPACE = set(ALLOWED) | {"recap_msgs"}
# Libraries that only the offline side may pull in.
HEAVY = {"mujoco", "pyarrow", "matplotlib"}
NO_HEAVY = {"recap_core", "recap_model", "recap_lifecycle", "recap_policy", "recap_teleop", "recap_recorder"}
NO_ROS = {"recap_core", "recap_model", "recap_trainer"}


def imported_roots(package: str) -> dict[str, list[str]]:
    """Top-level module -> files of `package` that import it (module level or inside functions)."""
    found: dict[str, list[str]] = {}
    for path in sorted((SRC / package / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], []).append(str(path.relative_to(SRC)))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_it_may(package):
    roots = imported_roots(package)
    upward = {m: files for m, files in roots.items() if m in WORKSPACE and m != package and m not in ALLOWED[package]}
    assert not upward, f"{package} imports {sorted(upward)}: {upward}"
    if package in NO_HEAVY:
        heavy = {m: files for m, files in roots.items() if m in HEAVY}
        assert not heavy, f"{package} imports {sorted(heavy)}: {heavy}"
    if package in NO_ROS:
        ros = {m: files for m, files in roots.items() if m in ("rclpy", "rosidl_runtime_py") or m.endswith("_msgs")}
        assert not ros, f"{package} must stay ROS-free, imports {sorted(ros)}: {ros}"


BLOCKED = ("recap_trainer", "recap_sim", "recap_bringup", "recap_lab", "mujoco", "pyarrow", "matplotlib")
RUN_POLICY_WITHOUT_THE_OFFLINE_SIDE = f"""
import sys, importlib.abc
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"{{name}} is not installed on this robot PC")
sys.meta_path.insert(0, Blocked())
import numpy as np
import recap_policy.policy_node
from recap_policy.backends import Conditioning
from recap_policy.backends.checkpoint import CheckpointBackend
from recap_core.robot_description import load_robot
from recap_policy.observation import Observation
backend = CheckpointBackend(sys.argv[1], Conditioning(), load_robot("aloha_sim").joint_names)
obs = Observation(qpos=np.zeros(14), stamp_ns=0, task="transfer_cube", env_state=np.zeros(len(backend.metadata.state_names)))
chunk = backend.infer(obs)
assert chunk.shape == (backend.metadata.horizon, 14) and np.isfinite(chunk).all()
print("inferred", chunk.shape)
"""


def test_the_policy_node_runs_a_checkpoint_without_trainer_sim_mujoco_pyarrow_or_matplotlib(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent / "policy"))
    from tiny_checkpoint import write_tiny_checkpoint

    checkpoint = write_tiny_checkpoint(tmp_path / "tiny")
    result = subprocess.run([sys.executable, "-c", RUN_POLICY_WITHOUT_THE_OFFLINE_SIDE, str(checkpoint)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "inferred (10, 14)" in result.stdout
