"""Checkpoints: safetensors weights + config.json + normalisation stats; loading never unpickles.

Layout of a checkpoint directory:
  config.json              {"format", "kind": "policy"|"value", "robot", "model_config", "metadata", "training"}
                           "robot": {"name", "description_hash", "joint_names"} of the robot description
                           the training data was recorded with (`read_robot`); D = len(joint_names)
  model.safetensors        the model's state dict
  normalization.safetensors  NormStats as "<name>.mean" / "<name>.std"
  optimizer.safetensors, trainer_state.json   (only to resume training)
  training_weights.safetensors  the weights the optimizer trains, when model.safetensors holds their
                           moving average (TrainConfig.ema_decay; only to resume training)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.numpy import load_file as load_numpy, save as numpy_to_bytes
from safetensors.torch import load_file as load_torch, save as torch_to_bytes

from recap_core.output_files import write_bytes_atomic, write_json_atomic

from recap_model.models.config import (
    ConfigMismatchError, PolicyConfig, ValueConfig, config_differences, config_from_dict, config_to_dict,
)
from recap_model.models.policy_model import PolicyModel
from recap_model.models.value_model import ValueModel
from recap_model.normalization import NormStats
from recap_model.robot_layout import RobotLayoutError, check_identity

# 2: x-prediction head; 3: relative_dims, condition at the head input; 4: condition-only branch; 5: robot block
FORMAT = "recap-checkpoint/5"
TRAINING_WEIGHTS = "training_weights.safetensors"
KINDS = {"policy": (PolicyConfig, PolicyModel), "value": (ValueConfig, ValueModel)}


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or from another model configuration."""


@dataclass
class Checkpoint:
    kind: str
    robot: dict  # {"name", "description_hash", "joint_names"}
    config: Any  # PolicyConfig | ValueConfig
    model: torch.nn.Module
    stats: NormStats
    metadata: dict
    training: dict
    path: Path


def save_checkpoint(
    directory: str | Path,
    kind: str,
    model: torch.nn.Module,
    stats: NormStats,
    robot: dict,
    metadata: dict | None = None,
    training: dict | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    trainer_state: dict | None = None,
    training_weights: torch.nn.Module | None = None,
) -> Path:
    """Write a checkpoint (config.json last, so a directory with it is complete); every file is
    replaced atomically, so a crash mid-save leaves the previous file, never half of one. `robot`:
    the training data's robot block (RobotLayout.identity()); its joints must be the model's D.
    `training_weights`: the model the optimizer trains when `model` is its weight average."""
    directory = Path(directory)
    robot = check_identity(robot, f"checkpoint {directory}")
    dims = [model.config.observation.qpos_dim] + ([model.config.action_dim] if kind == "policy" else [])
    if any(d != len(robot["joint_names"]) for d in dims):
        raise CheckpointError(f"{directory}: robot {robot['name']!r} has {len(robot['joint_names'])} joints, "
                              f"the {kind} model {dims}")
    directory.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(directory / "model.safetensors", torch_to_bytes(_weights(model)))
    if training_weights is not None:
        write_bytes_atomic(directory / TRAINING_WEIGHTS, torch_to_bytes(_weights(training_weights)))
    write_bytes_atomic(directory / "normalization.safetensors", numpy_to_bytes(stats.to_tensors()))
    if optimizer is not None:
        tensors, groups = _flatten_optimizer(optimizer)
        write_bytes_atomic(directory / "optimizer.safetensors", torch_to_bytes(tensors))
        write_json_atomic(directory / "trainer_state.json", {"param_groups": groups, **(trainer_state or {})})
    write_json_atomic(directory / "config.json", {
        "format": FORMAT,
        "kind": kind,
        "robot": robot,
        "model_config": config_to_dict(model.config),
        "metadata": metadata or {},
        "training": training or {},
    })
    return directory


def read_config(directory: str | Path) -> dict:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{path}: not a checkpoint (config.json missing)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: corrupt config.json ({exc})") from exc
    if data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: format {data.get('format')!r}, expected {FORMAT!r}")
    return data


def read_robot(directory: str | Path) -> dict:
    """The checkpoint's robot block {"name", "description_hash", "joint_names"}; CheckpointError when
    config.json is missing, of another format, or has no complete block."""
    try:
        return check_identity(read_config(directory).get("robot"), str(Path(directory) / "config.json"))
    except RobotLayoutError as exc:
        raise CheckpointError(str(exc)) from exc


def load_checkpoint(directory: str | Path, kind: str, expected_config: Any = None) -> Checkpoint:
    """Load a `kind` checkpoint; with `expected_config`, any config difference is an error."""
    directory = Path(directory)
    data = read_config(directory)
    robot = read_robot(directory)
    if data["kind"] != kind:
        raise CheckpointError(f"{directory}: a {data['kind']} checkpoint, expected a {kind} checkpoint")
    config_cls, model_cls = KINDS[kind]
    try:
        config = config_from_dict(config_cls, data["model_config"])
    except (ConfigMismatchError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{directory / 'config.json'}: invalid {kind} config: {exc}") from exc
    if expected_config is not None:
        diffs = config_differences(expected_config, config)
        if diffs:
            raise CheckpointError(
                f"{directory}: checkpoint is from another model config (expected != checkpoint): " + "; ".join(diffs)
            )
    model = model_cls(config)
    weights_path = directory / "model.safetensors"
    try:
        state = load_torch(str(weights_path))
    except Exception as exc:  # safetensors raises several types for missing / truncated files
        raise CheckpointError(f"{weights_path}: cannot read weights ({exc})") from exc
    own = model.state_dict()
    problems = [f"missing {k}" for k in own if k not in state] + [f"unexpected {k}" for k in state if k not in own]
    problems += [
        f"{k}: shape {tuple(state[k].shape)} != {tuple(own[k].shape)}"
        for k in own if k in state and state[k].shape != own[k].shape
    ]
    if problems:
        raise CheckpointError(
            f"{weights_path}: weights do not match the model config in config.json: " + "; ".join(problems[:8])
        )
    model.load_state_dict(state)
    try:
        stats = NormStats.from_tensors(load_numpy(str(directory / "normalization.safetensors")))
    except Exception as exc:
        raise CheckpointError(f"{directory / 'normalization.safetensors'}: cannot read stats ({exc})") from exc
    return Checkpoint(kind, robot, config, model, stats, data.get("metadata", {}), data.get("training", {}), directory)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}


def load_training_weights(directory: str | Path, model: torch.nn.Module) -> None:
    """Load the trained (not averaged) weights saved beside a weight average into `model`."""
    path = Path(directory) / TRAINING_WEIGHTS
    try:
        model.load_state_dict(load_torch(str(path)))
    except Exception as exc:  # safetensors raises several types for missing / truncated files
        raise CheckpointError(f"{path}: cannot resume the weight average's training weights ({exc})") from exc


def load_optimizer_state(directory: str | Path, optimizer: torch.optim.Optimizer) -> dict:
    """Restore optimizer state saved by `save_checkpoint`; returns trainer_state.json. A missing,
    damaged or mismatched file is a CheckpointError naming it."""
    directory = Path(directory)
    path = directory / "trainer_state.json"
    if not path.is_file():
        raise CheckpointError(f"{directory}: cannot resume, no optimizer state (trainer_state.json missing)")
    try:
        info = json.loads(path.read_text())
        groups = info["param_groups"]
        group_sizes = [len(g["params"]) for g in groups]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: damaged trainer state ({type(exc).__name__}: {exc})") from exc
    tensors_path = directory / "optimizer.safetensors"
    try:
        tensors = load_torch(str(tensors_path))
    except Exception as exc:  # safetensors raises several types for missing / truncated files
        raise CheckpointError(f"{tensors_path}: cannot read optimizer state ({exc})") from exc
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        index, _, name = key.partition(".")
        if not (index.isdigit() and name):
            raise CheckpointError(f"{tensors_path}: unexpected tensor {key!r} (expected <param index>.<name>)")
        state.setdefault(int(index), {})[name] = value
    if group_sizes != [len(g["params"]) for g in optimizer.state_dict()["param_groups"]]:
        raise CheckpointError(f"{directory}: optimizer state does not match the model's parameters")
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{tensors_path}: optimizer state does not fit the model ({exc})") from exc
    return info


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    sd = optimizer.state_dict()
    tensors = {}
    for index, st in sd["state"].items():
        for name, value in st.items():
            tensors[f"{index}.{name}"] = (value if torch.is_tensor(value) else torch.tensor(value)).contiguous()
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, groups
