"""A policy checkpoint's config.json with only what the graph reads of it (its inputs, horizon and robot)."""
import json
from pathlib import Path

from recap_core.robot_description import load_robot


def write_checkpoint_config(directory: Path, cameras=(), image_size=(48, 64), state_dim=0,
                            robot: str | None = "aloha_sim", horizon: int = 50) -> Path:
    """`robot`: the description whose block the config carries (None: no block)."""
    directory.mkdir(parents=True, exist_ok=True)
    observation = {"cameras": list(cameras), "image_size": list(image_size), "state_dim": state_dim}
    config: dict = {"model_config": {"observation": observation, "horizon": horizon}}
    if robot is not None:
        description = load_robot(robot)
        config["robot"] = {"name": description.name, "description_hash": description.description_hash(),
                           "joint_names": list(description.joint_names)}
    (directory / "config.json").write_text(json.dumps(config))
    return directory
