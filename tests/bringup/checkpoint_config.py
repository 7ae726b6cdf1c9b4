"""A policy checkpoint's config.json with only what the graph reads of it (its inputs)."""
import json
from pathlib import Path


def write_checkpoint_config(directory: Path, cameras=(), image_size=(48, 64), state_dim=0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    observation = {"cameras": list(cameras), "image_size": list(image_size), "state_dim": state_dim}
    (directory / "config.json").write_text(json.dumps({"model_config": {"observation": observation}}))
    return directory
