"""The ALOHA camera names and gripper calibrations are written once, in recap_core.aloha_layout;
every other module imports them (YAML configs keep their own literal values)."""
import re
from pathlib import Path

from recap_core import aloha_layout
from recap_core.aloha_layout import (ALOHA_FOLLOWER_GRIPPER, ALOHA_LEADER_GRIPPER, CAM_HIGH, CAMERA_NAMES,
                                     SIM_GRIPPER, WRIST_CAMERAS)

SRC = Path(__file__).resolve().parents[2] / "ros2_ws" / "src"
HOME = Path(aloha_layout.__file__).resolve()
# Camera names as a quoted name, or a wrist camera anywhere (they only ever appear as a list).
CAMERA_TEXT = re.compile(r"""["']cam_high["']|cam_(left|right)_wrist""")
# The raw gripper readings of the sim and of real ALOHA, as number tokens (strings and code alike).
GRIPPER_TEXT = re.compile(r"(?<![\d.])(0\.021|0\.057|0\.6213|1\.4910?|0\.0552|0\.8298)(?!\d)")


def _sources():
    for path in sorted(SRC.rglob("*.py")):
        if path.resolve() != HOME and "/build/" not in str(path) and "/install/" not in str(path):
            yield path


def test_constants_hold_the_rig_values():
    assert CAMERA_NAMES == ("cam_high", "cam_left_wrist", "cam_right_wrist")
    assert CAM_HIGH == "cam_high" and WRIST_CAMERAS == {"left": "cam_left_wrist", "right": "cam_right_wrist"}
    assert (SIM_GRIPPER.closed, SIM_GRIPPER.open) == (0.021, 0.057)
    assert (ALOHA_FOLLOWER_GRIPPER.closed, ALOHA_FOLLOWER_GRIPPER.open) == (-0.6213, 1.4910)
    assert (ALOHA_LEADER_GRIPPER.closed, ALOHA_LEADER_GRIPPER.open) == (-0.0552, 0.8298)


def test_no_module_outside_core_writes_camera_names():
    found = [f"{p.relative_to(SRC)}:{i}: {line.strip()}" for p in _sources()
             for i, line in enumerate(p.read_text().splitlines(), 1) if CAMERA_TEXT.search(line)]
    assert not found, "camera names belong in recap_core.aloha_layout.CAMERA_NAMES:\n" + "\n".join(found)


def test_no_module_outside_core_writes_gripper_calibrations():
    found = [f"{p.relative_to(SRC)}:{i}: {line.strip()}" for p in _sources()
             for i, line in enumerate(p.read_text().splitlines(), 1) if GRIPPER_TEXT.search(line)]
    assert not found, "gripper calibrations belong in recap_core.aloha_layout:\n" + "\n".join(found)
