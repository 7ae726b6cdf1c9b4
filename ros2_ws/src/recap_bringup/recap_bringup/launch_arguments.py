"""Launch arguments as strings (ros2 launch, command line) -> LaunchArgs, with their help texts."""
from __future__ import annotations

import dataclasses

from recap_bringup.graph import LaunchArgs

HELP = {
    "task": "simulation task and task prompt key: espresso | transfer_cube",
    "sim": "true: simulated ALOHA (recap_sim, robot aloha_sim); false: the robot's drivers, already running",
    "robot": "robot description: a shipped name (aloha, aloha_sim, single_arm_6dof) or a YAML path; it gives "
             "every topic, joint and camera (docs/ROBOTS.md); sim:=true needs aloha_sim",
    "checkpoint": "policy checkpoint directory; empty: no policy node (teleoperation and recording only)",
    "record": "true: record one rosbag2 (MCAP) per episode",
    "bag_dir": "directory for the episode bags",
    "operator": "sim only: start the simulated operator that takes over and corrects the policy",
    "config_dir": "directory of node tuning files <robot name>.yaml or default.yaml (default: the installed "
                  "recap_bringup config)",
}
_FIELDS = {f.name: f for f in dataclasses.fields(LaunchArgs)}
assert set(HELP) == set(_FIELDS), "every launch argument needs a help text"


def default_strings(**overrides: object) -> dict[str, str]:
    """Defaults as launch-argument strings ("true"/"false" for booleans)."""
    defaults = {name: f.default for name, f in _FIELDS.items()}
    defaults.update(overrides)
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in defaults.items()}


def parse(values: dict[str, str]) -> LaunchArgs:
    """LaunchArgs from string values; a boolean must be true/false, an unknown name is an error."""
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown launch argument(s) {sorted(unknown)}; known: {sorted(_FIELDS)}")
    kwargs: dict[str, object] = {}
    for name, text in values.items():
        if isinstance(_FIELDS[name].default, bool):
            lowered = text.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError(f"launch argument {name}:={text!r} must be true or false")
            kwargs[name] = lowered == "true"
        else:
            kwargs[name] = text
    return LaunchArgs(**kwargs)
