"""scripts/env.sh says when the interfaces changed since the last build, before a node fails on a
message field its installed classes lack."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MSGS_LIB = "ros2_ws/install/recap_msgs/lib/librecap_msgs__rosidl_generator_c.so"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A built tree as env.sh sees it: a venv, an install, the interfaces' sources and their build."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts/env.sh", tmp_path / "scripts/env.sh")
    for stub in (".venv/bin/activate", "ros2_ws/install/local_setup.bash", MSGS_LIB,
                 "ros2_ws/src/recap_msgs/msg/TaskState.msg", "ros2_ws/src/recap_msgs/srv/ResetSim.srv"):
        (tmp_path / stub).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / stub).write_text("")
    os.utime(tmp_path / MSGS_LIB, (2_000_000_000, 2_000_000_000))  # built after the sources
    for source in (tmp_path / "ros2_ws/src/recap_msgs").rglob("*.*"):
        os.utime(source, (1_900_000_000, 1_900_000_000))
    return tmp_path


def source_env(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"source {tree / 'scripts/env.sh'} && echo sourced"],
                          capture_output=True, text=True, timeout=60)


def test_an_up_to_date_build_is_quiet(tree):
    result = source_env(tree)
    assert result.stdout.strip() == "sourced"
    assert "recap_msgs" not in result.stderr


@pytest.mark.parametrize("changed", ["msg/TaskState.msg", "srv/ResetSim.srv"])
def test_an_interface_changed_since_the_build_is_named(tree, changed):
    os.utime(tree / "ros2_ws/src/recap_msgs" / changed, (2_100_000_000, 2_100_000_000))
    result = source_env(tree)
    assert result.stdout.strip() == "sourced"  # a warning, not a refusal: the rest still works
    assert "recap_msgs changed since the last build: run 'make setup'" in result.stderr
