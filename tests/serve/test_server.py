"""`recap serve`'s server through openpi's own client: metadata, chunks equal to in-process
inference, the RECAP fields per request, concurrent clients, bad requests, disconnects, health."""
from __future__ import annotations

import threading
import urllib.request

import numpy as np
import pytest
from openpi_client.websocket_client_policy import WebsocketClientPolicy

from serve.checkpoints import HORIZON, STATE_NAMES, TASKS, observation, policy_obs
from serve.conftest import SEED, expected


def client(server) -> WebsocketClientPolicy:
    return WebsocketClientPolicy(host="127.0.0.1", port=server.port)


def test_a_plain_openpi_client_gets_the_metadata_and_the_positive_chunk(server, checkpoint):
    policy = client(server)
    meta = policy.get_server_metadata()
    assert meta["horizon"] == HORIZON and meta["action_dim"] == 14 and meta["cameras"] == ["cam_high"]
    assert meta["image_size"] == [16, 16] and meta["state_names"] == list(STATE_NAMES)
    assert meta["supports_frozen_prefix"] is True and meta["tasks"] == list(TASKS)
    assert (meta["default_advantage"], meta["default_guidance_scale"], meta["seed"]) == ("positive", 1.0, SEED)
    assert meta["policy_id"] == server.metadata["policy_id"] and len(meta["joint_names"]) == 14
    first, second = observation(0), observation(1)
    for k, obs in enumerate([first, second]):
        reply = policy.infer(obs)
        assert reply["actions"].shape == (HORIZON, 14) and reply["actions"].dtype == np.float32
        np.testing.assert_array_equal(reply["actions"], expected(checkpoint, policy_obs(obs), k))
        assert reply["policy_id"] == meta["policy_id"] and reply["server_timing"]["infer_ms"] > 0
    # A new connection starts again at SEED: its chunks do not depend on what others asked before.
    np.testing.assert_array_equal(client(server).infer(first)["actions"], expected(checkpoint, policy_obs(first)))


def test_recap_fields_are_taken_per_request(server, checkpoint):
    obs = observation(0)
    positive = expected(checkpoint, policy_obs(obs))
    cases = [({"advantage": "negative"}, {"advantage": "negative"}),
             ({"advantage": "unconditioned"}, {"advantage": "unconditioned"}),
             ({"guidance_scale": 2.5}, {"guidance_scale": 2.5}),
             ({"advantage": "negative", "guidance_scale": np.float32(1.5)}, {"advantage": "negative", "guidance_scale": 1.5})]
    for fields, conditioning in cases:
        got = client(server).infer({**obs, **fields})["actions"]
        np.testing.assert_array_equal(got, expected(checkpoint, policy_obs(obs), **conditioning), err_msg=str(fields))
        assert not np.allclose(got, positive), fields
    quiet = client(server).infer({**obs, "noise_scale": 0.0})["actions"]
    np.testing.assert_array_equal(quiet, expected(checkpoint, policy_obs(obs), noise_scale=0.0))
    assert not np.allclose(quiet, positive)

    prefix = np.random.default_rng(5).normal(size=(2, 14)).astype(np.float32)
    got = client(server).infer({**obs, "frozen_prefix": prefix, "advantage": "negative"})["actions"]
    np.testing.assert_array_equal(got[:2], prefix)  # kept exactly
    np.testing.assert_array_equal(got, expected(checkpoint, policy_obs(obs), advantage="negative", frozen_prefix=prefix))
    empty = client(server).infer({**obs, "frozen_prefix": np.zeros((0, 14), np.float32)})["actions"]
    np.testing.assert_array_equal(empty, positive)  # nothing committed yet: a free chunk


def test_concurrent_clients_each_get_their_own_chunks(server, checkpoint):
    requests = {c: [observation(10 * c + k) for k in range(4)] for c in range(3)}
    replies: dict[int, list] = {}
    start = threading.Barrier(len(requests))

    def run(c: int) -> None:
        policy = client(server)
        start.wait(timeout=30)
        replies[c] = [policy.infer(obs)["actions"] for obs in requests[c]]

    threads = [threading.Thread(target=run, args=(c,)) for c in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(replies) == sorted(requests)
    for c, observations in requests.items():
        for k, obs in enumerate(observations):
            np.testing.assert_array_equal(replies[c][k], expected(checkpoint, policy_obs(obs), k), err_msg=f"client {c}")


def _drop_camera(obs):
    return {**obs, "images": {}}


BAD_REQUESTS = [
    ("missing camera", _drop_camera, "field 'images.cam_high': missing"),
    ("state size", lambda o: {**o, "state": np.zeros(7, np.float32)}, "field 'state': has shape (7,)"),
    ("NaN state", lambda o: {**o, "state": np.where(np.arange(14) == 3, np.nan, o["state"])},
     "field 'state': element 3 is nan"),
    ("image layout", lambda o: {**o, "images": {"cam_high": np.zeros((16, 16, 3), np.uint8)}},
     "field 'images.cam_high': must be a (3, h, w) uint8 array, got (16, 16, 3) uint8"),
    ("image dtype", lambda o: {**o, "images": {"cam_high": np.zeros((3, 16, 16), np.float32)}},
     "field 'images.cam_high': must be a (3, h, w) uint8 array"),
    ("advantage", lambda o: {**o, "advantage": "great"}, "field 'advantage': must be one of"),
    ("prompt", lambda o: {**o, "prompt": "make coffee"}, "field 'prompt': must be one of the checkpoint's tasks"),
    ("env_state", lambda o: {k: v for k, v in o.items() if k != "env_state"}, "field 'env_state': missing"),
    ("guidance", lambda o: {**o, "guidance_scale": 0.0}, "field 'guidance_scale': must be a finite number > 0"),
    ("noise", lambda o: {**o, "noise_scale": float("inf")}, "field 'noise_scale': must be a finite number >= 0"),
    ("prefix", lambda o: {**o, "frozen_prefix": np.zeros((HORIZON, 14), np.float32)},
     f"field 'frozen_prefix': has shape ({HORIZON}, 14), must be (d, 14) with d < H = {HORIZON}"),
    ("not a dict", lambda o: [1, 2, 3], "field 'request': must be a dict"),
]


@pytest.mark.parametrize("bad, message", [(b, m) for _, b, m in BAD_REQUESTS], ids=[n for n, _, _ in BAD_REQUESTS])
def test_a_bad_request_is_answered_with_the_field_and_the_client_can_go_on(server, checkpoint, bad, message):
    policy, other = client(server), client(server)
    obs = observation(0)
    with pytest.raises(RuntimeError, match="bad request: ") as error:
        policy.infer(bad(obs))
    assert message in str(error.value)
    # The same connection goes on, and the error did not use up its first chunk's seed.
    np.testing.assert_array_equal(policy.infer(obs)["actions"], expected(checkpoint, policy_obs(obs)))
    np.testing.assert_array_equal(other.infer(obs)["actions"], expected(checkpoint, policy_obs(obs)))


def test_images_of_another_size_are_resized(server, checkpoint):
    obs = observation(0)
    obs["images"] = {"cam_high": np.random.default_rng(1).integers(0, 255, (3, 24, 32), dtype=np.uint8)}
    got = client(server).infer(obs)["actions"]
    np.testing.assert_array_equal(got, expected(checkpoint, policy_obs(obs)))


def test_health_check_answers_ok(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=10) as response:
        assert (response.status, response.read()) == (200, b"OK\n")
