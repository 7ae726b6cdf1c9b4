"""Checkpoints load without unpickling and refuse a different model config."""

import json

import numpy as np
import pytest
import torch

from recap_model.checkpoint import CheckpointError, load_checkpoint, read_robot, save_checkpoint
from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel, ValueConfig, ValueModel
from recap_model.normalization import NormStats
from recap_model.policy import load_policy
from recap_model.robot_layout import default_layout

ROBOT = default_layout().identity()  # the simulator's 14-D ALOHA

OBS = ObservationConfig(state_dim=3, tasks=("a",), width=16)
STATS = NormStats(mean={"qpos": np.zeros(14, np.float32), "env_state": np.zeros(3, np.float32), "action": np.ones(14, np.float32)},
                  std={"qpos": np.ones(14, np.float32), "env_state": np.ones(3, np.float32), "action": np.ones(14, np.float32)})


def policy(**kw) -> PolicyModel:
    return PolicyModel(PolicyConfig(observation=OBS, horizon=5, flow_width=32, flow_blocks=1, **kw))


def test_round_trip_is_bitwise_and_pickle_free(tmp_path, monkeypatch):
    model = policy()
    save_checkpoint(tmp_path, "policy", model, STATS, ROBOT, metadata={"control_period": 0.02})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors", "normalization.safetensors"]

    def no_pickle(*a, **k):
        raise AssertionError("checkpoint loading must not unpickle")

    monkeypatch.setattr(torch, "load", no_pickle)
    monkeypatch.setattr("pickle.load", no_pickle)
    monkeypatch.setattr("pickle.loads", no_pickle)
    ckpt = load_checkpoint(tmp_path, "policy")
    for k, v in model.state_dict().items():
        assert torch.equal(v, ckpt.model.state_dict()[k])
    assert np.array_equal(ckpt.stats.mean["action"], STATS.mean["action"])
    assert load_policy(tmp_path).metadata["horizon"] == 5


def test_other_kind_and_other_config_are_errors_naming_the_file(tmp_path):
    save_checkpoint(tmp_path / "v", "value", ValueModel(ValueConfig(observation=OBS)), STATS, ROBOT)
    with pytest.raises(CheckpointError, match="a value checkpoint, expected a policy checkpoint"):
        load_policy(tmp_path / "v")
    save_checkpoint(tmp_path / "p", "policy", policy(), STATS, ROBOT)
    with pytest.raises(CheckpointError, match="another model config.*horizon: 50 != 5"):
        load_checkpoint(tmp_path / "p", "policy", expected_config=PolicyConfig(observation=OBS, flow_width=32, flow_blocks=1))
    # weights from another config under this config.json
    cfg = json.loads((tmp_path / "p" / "config.json").read_text())
    cfg["model_config"]["flow_width"] = 64
    (tmp_path / "p" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"p/model.safetensors: weights do not match .*shape"):
        load_policy(tmp_path / "p")
    cfg["model_config"]["mystery"] = 1
    (tmp_path / "p" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="invalid policy config.*mystery"):
        load_policy(tmp_path / "p")


def test_missing_or_corrupt_checkpoint_is_an_error(tmp_path):
    with pytest.raises(CheckpointError, match="config.json missing"):
        load_policy(tmp_path)
    save_checkpoint(tmp_path, "policy", policy(), STATS, ROBOT)
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="model.safetensors: cannot read weights"):
        load_policy(tmp_path)


def test_optimizer_state_round_trip(tmp_path):
    from recap_model.checkpoint import load_optimizer_state

    model = policy()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.velocity.out.weight.sum().backward()
    opt.step()
    save_checkpoint(tmp_path, "policy", model, STATS, ROBOT, optimizer=opt, trainer_state={"step": 1})
    opt2 = torch.optim.AdamW(model.parameters(), lr=1e-3)
    assert load_optimizer_state(tmp_path, opt2)["step"] == 1
    a, b = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert a.keys() == b.keys() and all(torch.equal(a[k]["exp_avg"], b[k]["exp_avg"]) for k in a)


def saved_with_optimizer(directory):
    model = policy()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.velocity.out.weight.sum().backward()
    opt.step()
    save_checkpoint(directory, "policy", model, STATS, ROBOT, optimizer=opt, trainer_state={"step": 1})
    return torch.optim.AdamW(model.parameters(), lr=1e-3)


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "optimizer.safetensors").write_bytes(b"\x00" * 40), r"optimizer.safetensors: cannot read"),
    (lambda d: (d / "optimizer.safetensors").unlink(), r"optimizer.safetensors: cannot read"),
    (lambda d: (d / "trainer_state.json").write_text('{"param_groups": [{"par'), r"trainer_state.json: damaged"),
    (lambda d: (d / "trainer_state.json").write_text('{"step": 1}'), r"trainer_state.json: damaged.*param_groups"),
])
def test_a_damaged_optimizer_state_is_an_error_naming_the_file(tmp_path, damage, message):
    from recap_model.checkpoint import load_optimizer_state

    optimizer = saved_with_optimizer(tmp_path)
    damage(tmp_path)
    with pytest.raises(CheckpointError, match=message):
        load_optimizer_state(tmp_path, optimizer)


def test_checkpoint_files_are_replaced_atomically_and_config_json_is_strict(tmp_path):
    save_checkpoint(tmp_path, "policy", policy(), STATS, ROBOT, metadata={"undefined": float("nan")})
    assert json.loads((tmp_path / "config.json").read_text())["metadata"] == {"undefined": None}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors", "normalization.safetensors"]


def test_the_checkpoint_carries_its_robot_and_refuses_to_load_without_it(tmp_path):
    save_checkpoint(tmp_path, "policy", policy(), STATS, ROBOT)
    assert read_robot(tmp_path) == ROBOT and load_checkpoint(tmp_path, "policy").robot == ROBOT
    assert load_policy(tmp_path).metadata["joint_names"] == ROBOT["joint_names"]
    config = json.loads((tmp_path / "config.json").read_text())
    del config["robot"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    for load in (read_robot, lambda d: load_checkpoint(d, "policy")):
        with pytest.raises(CheckpointError, match=r"config.json: no robot block \{name, description_hash, joint_names\}"):
            load(tmp_path)


def test_a_robot_of_another_dimension_is_refused_at_save(tmp_path):
    seven = {**ROBOT, "joint_names": ROBOT["joint_names"][:7]}
    with pytest.raises(CheckpointError, match=r"robot 'aloha_sim' has 7 joints, the policy model \[14, 14\]"):
        save_checkpoint(tmp_path, "policy", policy(), STATS, seven)
