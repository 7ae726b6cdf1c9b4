"""A LeRobot pretrained policy (e.g. a VLA fine-tuned with RECAP labels) behind `recap serve`'s protocol.

A request becomes LeRobot's batch: `observation.state` (14,), `observation.images.<camera>` float
(3, H, W) in [0, 1], `observation.environment_state` (S,) where the policy reads it, and `task` = the
request's prompt. The policy's own preprocessor (rename, batch, device, normaliser, tokenizer ...)
runs on it, `predict_action_chunk` gives (1, H, D) and the postprocessor unnormalises it.

The indicator I: a policy trained with recap_trainer.lerobot_advantage.AdvantagePromptStep in its
preprocessor is loaded with that step in inference mode, so a request's prompt gets "Advantage:
positive" appended; advantage "negative" appends "Advantage: negative" instead and "unconditioned"
leaves the prompt as it is (the step is skipped). A policy without the step has no conditioning and
takes positive / unconditioned only. LeRobot policies have no CFG (guidance_scale must be 1) and no
frozen prefix; `noise_scale` is accepted and not used (the remote backend always sends it).

lerobot is imported only by load_lerobot_adapter: it lives in the Python 3.12 env (.venv312).
"""
from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from recap_trainer.serving import protocol
from recap_trainer.serving.device import describe_device, serving_device
from recap_trainer.serving.protocol import RequestError, ServingDefaults

log = logging.getLogger("recap.serve")

NEEDS_LEROBOT = ("`recap serve --lerobot` needs the Python 3.12 env with lerobot: make test-py312 / "
                 "scripts/setup_py312.sh, then run it with .venv312/bin/recap serve --lerobot POLICY_DIR")
ADVANTAGE_STEP = "recap_trainer.lerobot_advantage.AdvantagePromptStep"
STATE, ENV_STATE, IMAGE_PREFIX = "observation.state", "observation.environment_state", "observation.images."


@dataclass(frozen=True)
class PolicyFeatures:
    """What the policy reads and writes, from its config's input / output features."""

    cameras: tuple[str, ...]
    image_size: tuple[int, int] | None  # (H, W) of every camera
    env_state_dim: int  # 0: the policy reads no observation.environment_state
    action_dim: int
    horizon: int  # chunk_size H

    @staticmethod
    def from_config(config, where: Path) -> "PolicyFeatures":
        inputs = {name: tuple(feature.shape) for name, feature in config.input_features.items()}
        outputs = {name: tuple(feature.shape) for name, feature in config.output_features.items()}
        state = inputs.get(STATE)
        if state is None or len(state) != 1 or outputs.get("action") != state:
            raise ValueError(f"{where}: `recap serve` serves joint-position policies whose action has the shape of "
                             f"observation.state (D,), but observation.state is {state} and action "
                             f"{outputs.get('action')}")
        n = int(state[0])
        cameras = tuple(name.removeprefix(IMAGE_PREFIX) for name in inputs if name.startswith(IMAGE_PREFIX))
        sizes = {inputs[IMAGE_PREFIX + camera][1:] for camera in cameras}
        if len(sizes) > 1:
            raise ValueError(f"{where}: cameras {list(cameras)} have different image sizes {sorted(sizes)}")
        env = inputs.get(ENV_STATE, (0,))
        return PolicyFeatures(cameras, sizes.pop() if sizes else None, int(env[0]), n, int(config.chunk_size))


@dataclass(frozen=True)
class LeRobotRequest:
    batch: dict  # LeRobot's observation (unbatched tensors) + task
    advantage: str


class LeRobotPolicyAdapter:
    """Serves `policy` with its `preprocessor` / `postprocessor`; `advantage_step` is the index of
    AdvantagePromptStep in the preprocessor's steps, None when the policy was trained without it."""

    def __init__(self, policy, preprocessor, postprocessor, metadata: dict, defaults: ServingDefaults,
                 advantage_step: int | None) -> None:
        if advantage_step is None and defaults.advantage == "negative":
            raise ValueError("advantage must be positive or unconditioned: the policy was trained without "
                             "AdvantagePromptStep (no advantage conditioning)")
        if defaults.guidance_scale != 1.0:
            raise ValueError(f"guidance_scale must be 1 for a LeRobot policy (no CFG), got {defaults.guidance_scale}")
        self.policy, self.defaults, self.metadata = policy, defaults, metadata
        self._pre = {"positive": preprocessor}
        if advantage_step is not None:
            steps = list(preprocessor.steps)
            self._pre["plain"] = _with_steps(preprocessor, steps[:advantage_step] + steps[advantage_step + 1:])
        self._post = postprocessor

    def parse(self, raw: object) -> LeRobotRequest:
        raw = protocol.request_dict(raw)
        m = self.metadata
        batch = {STATE: torch.tensor(protocol.finite_vector(raw, "state", len(m["joint_names"])), dtype=torch.float32)}
        for camera, img in protocol.camera_images(raw, m["cameras"]).items():
            if list(img.shape[1:]) != m["image_size"]:
                raise RequestError(f"images.{camera}", f"is {img.shape[1]}x{img.shape[2]}, the policy was trained "
                                   f"on {m['image_size'][0]}x{m['image_size'][1]} (H x W)")
            batch[IMAGE_PREFIX + camera] = torch.tensor(img, dtype=torch.float32) / 255.0
        if m["state_names"]:
            env = protocol.finite_vector(raw, "env_state", len(m["state_names"]), f"object state {m['state_names']}")
            batch[ENV_STATE] = torch.tensor(env, dtype=torch.float32)
        prompt = raw.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise RequestError("prompt", f"must be the instruction text, got {prompt!r}")
        advantage = protocol.advantage(raw, self.defaults.advantage)
        if advantage == "negative" and "plain" not in self._pre:
            raise RequestError("advantage", "the policy was trained without AdvantagePromptStep (no advantage "
                               "conditioning): only positive/unconditioned, got 'negative'")
        protocol.number(raw, "guidance_scale", 1.0, "1 for a LeRobot policy (no CFG)", lambda v: v == 1.0)
        protocol.number(raw, "noise_scale", self.defaults.noise_scale, "a finite number >= 0", lambda v: v >= 0)
        if protocol.frozen_prefix(raw, m["horizon"], m["action_dim"]) is not None:
            raise RequestError("frozen_prefix", "a LeRobot policy cannot keep committed actions "
                               "(supports_frozen_prefix is false)")
        batch["task"] = prompt
        return LeRobotRequest(batch, advantage)

    def preprocess(self, request: LeRobotRequest) -> dict:
        """The policy's input batch: the request through the preprocessor for its indicator."""
        batch, pre = dict(request.batch), self._pre["positive"]
        if "plain" in self._pre and request.advantage != "positive":
            pre = self._pre["plain"]
            if request.advantage == "negative":
                from recap_trainer.lerobot_advantage import conditioned_task

                batch["task"] = conditioned_task(batch["task"], positive=False)
        return pre(batch)

    def infer(self, request: LeRobotRequest, index: int) -> np.ndarray:
        """(H, D) float32: preprocessor -> predict_action_chunk -> postprocessor."""
        torch.manual_seed(self.defaults.seed + index)  # stochastic policies (diffusion, flow) sample per chunk
        self.policy.reset()
        with torch.inference_mode():
            chunk = self._post(self.policy.predict_action_chunk(self.preprocess(request)))
        return chunk[0].detach().to("cpu", torch.float32).numpy()


def _with_steps(pipeline, steps: list):
    """A copy of `pipeline` running `steps` (the step objects are shared: they hold no per-call state)."""
    return dataclasses.replace(pipeline, steps=steps)


def load_lerobot_adapter(policy_dir: Path, defaults: ServingDefaults, device: str = "cpu",
                         fps: float | None = None) -> LeRobotPolicyAdapter:
    """The policy in `policy_dir` (lerobot-train's pretrained_model: config.json, model.safetensors,
    policy_preprocessor.json, policy_postprocessor.json) with its processors, on `device`.
    `fps`: the control rate; by default the training dataset's (train_config.json -> meta/info.json)."""
    try:
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors
    except ImportError as error:
        raise RuntimeError(f"{NEEDS_LEROBOT} ({error})") from None
    policy_dir = Path(policy_dir)
    for name in ("config.json", "model.safetensors", "policy_preprocessor.json", "policy_postprocessor.json"):
        if not (policy_dir / name).is_file():
            raise FileNotFoundError(f"no LeRobot pretrained policy at {policy_dir} ({name} missing)")
    target = serving_device(device)
    config = PreTrainedConfig.from_pretrained(policy_dir)
    config.device = str(target)
    features = PolicyFeatures.from_config(config, policy_dir)
    meta = _dataset_info(policy_dir)
    control_period = 1.0 / _fps(fps, meta, policy_dir)
    steps = json.loads((policy_dir / "policy_preprocessor.json").read_text())["steps"]
    conditioned = any(step.get("class") == ADVANTAGE_STEP for step in steps)
    overrides = {"device_processor": {"device": str(target)}} if any(
        step.get("registry_name") == "device_processor" for step in steps) else {}  # unused overrides raise
    if conditioned:
        overrides["AdvantagePromptStep"] = {"inference": True}
    policy = get_policy_class(config.type).from_pretrained(policy_dir, config=config).to(target).eval()
    pre, post = make_pre_post_processors(config, pretrained_path=str(policy_dir), preprocessor_overrides=overrides)
    from recap_trainer.lerobot_advantage import AdvantagePromptStep

    advantage_step = next((i for i, step in enumerate(pre.steps) if isinstance(step, AdvantagePromptStep)), None)
    metadata = server_metadata(policy_dir, config.type, features, control_period, meta, defaults,
                               advantage_step is not None)
    log.info("loaded LeRobot %s from %s (H=%d, cameras %s, %s) on %s", config.type, policy_dir, features.horizon,
             list(features.cameras) or "none", "advantage-conditioned" if advantage_step is not None
             else "no advantage conditioning", describe_device(target))
    return LeRobotPolicyAdapter(policy, pre, post, metadata, defaults, advantage_step)


def server_metadata(policy_dir: Path, policy_type: str, features: PolicyFeatures, control_period: float,
                    dataset_info: dict, defaults: ServingDefaults, advantage_conditioned: bool) -> dict:
    """The dict sent on connect: the keys recap_policy's remote backend reads, as the RECAP kind sends them."""
    joints = (dataset_info.get("features", {}).get(STATE) or {}).get("names")
    if not (isinstance(joints, list) and len(joints) == features.action_dim):
        raise ValueError(f"{policy_dir}: the training dataset's info.json names {joints!r} as the "
                         f"{features.action_dim} joints of {STATE}; the robot's joint names are needed")
    names = (dataset_info.get("features", {}).get(ENV_STATE) or {}).get("names")
    if not (isinstance(names, list) and len(names) == features.env_state_dim):
        names = [f"environment_state[{i}]" for i in range(features.env_state_dim)]
    return {
        "policy_id": f"lerobot/{policy_type}/{policy_dir.resolve()}",
        "policy_kind": "lerobot",
        "horizon": features.horizon,
        "action_dim": features.action_dim,
        "control_period": control_period,
        "cameras": list(features.cameras),
        "image_size": list(features.image_size) if features.cameras else None,
        "image_layout": "CHW uint8",
        "state_names": names,
        "joint_names": list(joints),
        "supports_frozen_prefix": False,
        "method": f"lerobot {policy_type}",
        "advantage_conditioned": advantage_conditioned,
        "advantages": protocol.ADVANTAGES if advantage_conditioned else ["positive", "unconditioned"],
        "default_advantage": defaults.advantage,
        "default_guidance_scale": 1.0,
        "seed": defaults.seed,
    }


def _dataset_info(policy_dir: Path) -> dict:
    """The training dataset's meta/info.json where train_config.json names a local root, else {}."""
    train_config = policy_dir / "train_config.json"
    if not train_config.is_file():
        return {}
    root = json.loads(train_config.read_text()).get("dataset", {}).get("root")
    info = Path(root) / "meta" / "info.json" if root else None
    return json.loads(info.read_text()) if info is not None and info.is_file() else {}


def _fps(fps: float | None, dataset_info: dict, policy_dir: Path) -> float:
    value = fps if fps is not None else dataset_info.get("fps")
    if value is None:
        raise ValueError(f"fps is unknown: {policy_dir}/train_config.json names no local dataset with meta/info.json; "
                         "give the control rate with --fps")
    if not value > 0:
        raise ValueError(f"fps must be > 0, got {value}")
    return float(value)
