"""The server outlives its clients and its own failures; `recap serve` starts, serves and stops on Ctrl-C."""
from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from openpi_client import msgpack_numpy
from openpi_client.websocket_client_policy import WebsocketClientPolicy
from websockets.sync.client import connect

from recap_model.policy import load_policy
from recap_trainer.cli import main
from recap_trainer.cli.options import UsageError
from recap_trainer.serving.device import ModelOnDevice, place_policy
from recap_trainer.serving.recap_adapter import RecapPolicyAdapter
from recap_trainer.serving.server import PolicyServer, ServerConfig
from ros_harness import wait_until
from serve.checkpoints import observation, policy_obs
from serve.conftest import expected


class GatedPolicy:
    """A Policy whose infer waits for `release` (or raises `failure`), so a test controls the timing."""

    def __init__(self, policy) -> None:
        self.policy = policy
        self.entered, self.release = threading.Event(), threading.Event()
        self.failure: Exception | None = None

    def __getattr__(self, name: str):
        return getattr(self.policy, name)

    def infer(self, *args):
        self.entered.set()
        assert self.release.wait(timeout=30)
        if self.failure is not None:
            raise self.failure
        return self.policy.infer(*args)


@pytest.fixture
def gated(checkpoint):
    policy = GatedPolicy(load_policy(checkpoint))
    with PolicyServer(RecapPolicyAdapter(policy), ServerConfig(port=0)) as server:
        yield policy, server


def test_a_client_disconnecting_mid_request_does_not_stop_the_server(gated, checkpoint, caplog):
    policy, server = gated
    caplog.set_level(logging.INFO, logger="recap.serve")
    with connect(f"ws://127.0.0.1:{server.port}", compression=None, max_size=None) as ws:
        ws.recv()  # metadata
        ws.send(msgpack_numpy.Packer().pack(observation(0)))
        assert policy.entered.wait(timeout=30)
    policy.release.set()  # the chunk is ready after its client has gone
    wait_until(lambda: re.search(r"client \S+ disconnected .* after 0 chunk", caplog.text), 10, "the disconnect log")
    obs = observation(1)
    got = WebsocketClientPolicy(host="127.0.0.1", port=server.port).infer(obs)["actions"]
    np.testing.assert_array_equal(got, load_policy(checkpoint, seed=0).infer(policy_obs(obs)))
    assert "Traceback" not in caplog.text


def test_a_failing_inference_closes_that_connection_only(gated, checkpoint):
    policy, server = gated
    policy.failure = RuntimeError("device lost")
    policy.release.set()
    failing = WebsocketClientPolicy(host="127.0.0.1", port=server.port)
    with pytest.raises(RuntimeError, match="(?s)Error in inference server.*device lost"):
        failing.infer(observation(0))
    policy.failure = None
    got = WebsocketClientPolicy(host="127.0.0.1", port=server.port).infer(observation(0))["actions"]
    assert got.shape == (6, 14)
    with pytest.raises(Exception):  # openpi's behaviour: the failed connection is closed (1011)
        failing.infer(observation(0))


def test_the_model_on_another_device_gives_the_same_chunk(checkpoint):
    obs = policy_obs(observation(0))
    policy = load_policy(checkpoint, seed=3)
    policy.model = ModelOnDevice(policy.model, torch.device("cpu"))
    np.testing.assert_array_equal(policy.infer(obs, guidance_scale=2.0),
                                  load_policy(checkpoint, seed=3).infer(obs, guidance_scale=2.0))
    assert place_policy(policy, "cpu") == "cpu"
    with pytest.raises(ValueError, match="--device must be cpu or cuda"):
        place_policy(policy, "meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="--device cuda: CUDA is not available"):
            place_policy(policy, "cuda")


@pytest.mark.parametrize("option, value, message", [
    ("--noise-scale", "-1", "--noise-scale must be a finite number >= 0, got -1.0"),
    ("--guidance-scale", "0", "--guidance-scale must be a finite number > 0, got 0.0"),
    ("--port", "70000", "--port must be in 0..65535, got 70000"),
    ("--seed", "-2", "--seed must be >= 0, got -2"),
])
def test_bad_options_are_named(checkpoint, option, value, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        main(["serve", str(checkpoint), option, value])


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"no policy checkpoint at {tmp_path / 'nope'}"):
        main(["serve", str(tmp_path / "nope")])


def test_recap_serve_logs_its_clients_and_stops_cleanly_on_ctrl_c(checkpoint):
    proc = subprocess.Popen([sys.executable, "-m", "recap_trainer.cli", "serve", str(checkpoint), "--port", "0",
                             "--seed", "7", "--threads", "1"], stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stderr:  # blocks until the server says where it listens
            lines.append(line)
            if match := re.search(r"on ws://127\.0\.0\.1:(\d+)", line):
                break
        assert match, "".join(lines)
        obs = observation(0)
        client = WebsocketClientPolicy(host="127.0.0.1", port=int(match.group(1)))
        np.testing.assert_array_equal(client.infer(obs)["actions"], expected(checkpoint, policy_obs(obs)))
        client._ws.close()
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=30) == 0, rest
    finally:
        if proc.poll() is None:
            proc.kill()
    log = "".join(lines) + rest
    assert "loaded " in log and " on cpu" in log
    assert re.search(r"client 127\.0\.0\.1:\d+ connected", log) and re.search(r"disconnected .*after 1 chunk", log)
    assert "stopping" in log and "stopped" in log and "Traceback" not in log
