"""`recap serve --lerobot`: an ACT policy trained by lerobot-train on the export, served over openpi's
protocol; its chunks equal the policy + processors run in-process, bad requests are named, and the
advantage indicator reaches the prompt through AdvantagePromptStep.

openpi-client cannot be installed beside LeRobot (it pins numpy < 2), so the client here is openpi's
WebsocketClientPolicy in a few lines: metadata on connect, one packed request, one packed reply, a text
frame is an error (tests/serve checks the codec against openpi's own)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("lerobot.policies", reason="LeRobot runs in the Python 3.12 env: make test-py312")

from websockets.sync.client import connect  # noqa: E402

from export_fixtures import CAMERAS, IMAGE_SIZE, INSTRUCTION, export  # noqa: E402,F401
from recap_trainer.cli import main  # noqa: E402
from recap_trainer.cli.options import UsageError  # noqa: E402
from recap_trainer.lerobot_advantage import conditioned_task  # noqa: E402
from recap_trainer.serving import wire  # noqa: E402
from recap_trainer.serving.lerobot_adapter import load_lerobot_adapter  # noqa: E402
from recap_trainer.serving.protocol import ServingDefaults  # noqa: E402
from recap_trainer.serving.server import PolicyServer, ServerConfig  # noqa: E402
from test_lerobot_train import train  # noqa: E402

CHUNK = 4  # test_lerobot_train's TINY act: --policy.chunk_size=4


class Client:
    """openpi_client.WebsocketClientPolicy's exchange."""

    def __init__(self, port: int) -> None:
        self.ws = connect(f"ws://127.0.0.1:{port}", compression=None, max_size=None)
        self.metadata = wire.unpack(self.ws.recv())

    def infer(self, obs: dict) -> dict:
        self.ws.send(wire.pack(obs))
        reply = self.ws.recv()
        if isinstance(reply, str):
            raise RuntimeError(f"Error in inference server:\n{reply}")
        return wire.unpack(reply)


@pytest.fixture(scope="module")
def policy_dir(export, tmp_path_factory):
    out = tmp_path_factory.mktemp("act") / "run"
    result = train(export, "act", out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out / "checkpoints" / "last" / "pretrained_model"


def observation(k: int = 0) -> dict:
    rng = np.random.default_rng(k)
    return {"state": rng.normal(0, 0.05, 14).astype(np.float32), "prompt": INSTRUCTION,
            "images": {c: rng.integers(0, 255, (3, *IMAGE_SIZE), dtype=np.uint8) for c in CAMERAS},
            "env_state": rng.normal(size=6).astype(np.float32), "advantage": "positive", "guidance_scale": 1.0,
            "noise_scale": 0.75}


def in_process(policy_dir, obs: dict) -> np.ndarray:
    """The same observation through LeRobot's own loading and processors, with no server code."""
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    config = PreTrainedConfig.from_pretrained(policy_dir)
    policy = get_policy_class(config.type).from_pretrained(policy_dir, config=config).eval()
    pre, post = make_pre_post_processors(config, pretrained_path=str(policy_dir))
    batch = {"observation.state": torch.tensor(obs["state"]), "task": obs["prompt"],
             "observation.environment_state": torch.tensor(obs["env_state"])}
    batch.update({f"observation.images.{c}": torch.tensor(img).float() / 255 for c, img in obs["images"].items()})
    with torch.inference_mode():
        return post(policy.predict_action_chunk(pre(batch)))[0].numpy()


def test_a_served_act_policy_answers_chunks_equal_to_in_process_and_names_bad_fields(policy_dir):
    adapter = load_lerobot_adapter(policy_dir, ServingDefaults())
    with PolicyServer(adapter, ServerConfig(port=0)) as server:
        client = Client(server.port)
        meta = client.metadata
        assert (meta["horizon"], meta["action_dim"], meta["cameras"]) == (CHUNK, 14, list(CAMERAS))
        assert meta["image_size"] == list(IMAGE_SIZE) and len(meta["state_names"]) == 6
        assert meta["control_period"] == pytest.approx(0.02) and len(meta["joint_names"]) == 14
        assert meta["supports_frozen_prefix"] is False and meta["policy_kind"] == "lerobot"
        obs = observation(0)
        reply = client.infer(obs)["actions"]
        assert reply.shape == (CHUNK, 14) and reply.dtype == np.float32
        np.testing.assert_allclose(reply, in_process(policy_dir, obs), rtol=0, atol=1e-6)

        bad = [({**obs, "images": {CAMERAS[0]: obs["images"][CAMERAS[0]]}}, "field 'images.cam_left_wrist': missing"),
               ({**obs, "state": np.zeros(7, np.float32)}, "field 'state': has shape (7,)"),
               ({**obs, "images": {c: np.zeros((3, 8, 8), np.uint8) for c in CAMERAS}},
                "field 'images.cam_high': is 8x8, the policy was trained on 24x32"),
               ({**obs, "advantage": "negative"}, "field 'advantage': the policy was trained without"),
               ({**obs, "guidance_scale": 2.0}, "field 'guidance_scale': must be 1 for a LeRobot policy"),
               ({**obs, "frozen_prefix": np.zeros((1, 14))}, "field 'frozen_prefix': a LeRobot policy cannot")]
        for request, message in bad:
            with pytest.raises(RuntimeError, match="bad request: ") as error:
                client.infer(request)
            assert message in str(error.value)
        np.testing.assert_array_equal(client.infer(obs)["actions"], reply)  # the same connection goes on


def test_the_indicator_reaches_the_prompt_through_advantage_prompt_step(policy_dir, export, tmp_path):
    conditioned = tmp_path / "pretrained_model"
    shutil.copytree(policy_dir, conditioned)
    config_path = conditioned / "policy_preprocessor.json"
    config = json.loads(config_path.read_text())  # the step as docs/VLA_RECIPE.md inserts it: training mode,
    config["steps"].append({"class": "recap_trainer.lerobot_advantage.AdvantagePromptStep",  # which needs `index`
                            "config": {"dataset_root": str(export), "dropout": 0.3, "seed": 0, "inference": False}})
    config_path.write_text(json.dumps(config))
    adapter = load_lerobot_adapter(conditioned, ServingDefaults())
    assert adapter.metadata["advantage_conditioned"] is True
    prompts = {advantage: adapter.preprocess(adapter.parse({**observation(0), "advantage": advantage}))["task"]
               for advantage in ("positive", "negative", "unconditioned")}
    assert prompts == {"positive": [conditioned_task(INSTRUCTION, True)],
                       "negative": [conditioned_task(INSTRUCTION, False)], "unconditioned": [INSTRUCTION]}
    assert prompts["positive"] == [INSTRUCTION + "\nAdvantage: positive"]
    with PolicyServer(adapter, ServerConfig(port=0)) as server:  # ACT ignores the text: the same chunk
        got = Client(server.port).infer({**observation(0), "advantage": "negative"})["actions"]
    np.testing.assert_allclose(got, in_process(policy_dir, observation(0)), rtol=0, atol=1e-6)


def test_bad_lerobot_options_are_named(policy_dir, tmp_path):
    with pytest.raises(UsageError, match="--guidance-scale must be 1 for a LeRobot policy"):
        main(["serve", "--lerobot", str(policy_dir), "--guidance-scale", "2"])
    with pytest.raises(UsageError, match="--fps must be > 0, got -1.0"):
        main(["serve", "--lerobot", str(policy_dir), "--fps", "-1"])
    with pytest.raises(FileNotFoundError, match=f"no LeRobot pretrained policy at {tmp_path}"):
        main(["serve", "--lerobot", str(tmp_path)])
