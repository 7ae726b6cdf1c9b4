"""Policy backends: chunk validation and the remote (openpi websocket protocol) backend."""
import numpy as np
import pytest

from openpi_test_server import OpenpiTestServer
from recap_core.aloha_layout import JOINT_NAMES
from recap_policy.backends import BackendMetadata, Conditioning, InvalidChunk, check_chunk
from recap_policy.backends.remote import RemoteBackend
from recap_policy.observation import Observation

QPOS = np.linspace(-0.5, 0.5, 14)
IMAGE = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)


def test_check_chunk_rejects_nan_naming_the_source_and_rows():
    bad = np.zeros((5, 14))
    bad[2, 1] = np.inf
    with pytest.raises(InvalidChunk, match=r"my-policy: chunk has 1 NaN/inf value\(s\) in row\(s\) \[2\]"):
        check_chunk(bad, JOINT_NAMES, "my-policy")


def test_check_chunk_rejects_another_width_than_the_robots():
    with pytest.raises(InvalidChunk, match=r"expected a chunk \(H, 14\) for the robot's 14 joints, got shape \(5, 7\)"):
        check_chunk(np.zeros((5, 7)), JOINT_NAMES, "p")
    with pytest.raises(InvalidChunk, match="expected a chunk"):
        check_chunk(np.zeros((5, 32)), JOINT_NAMES, "p")
    assert check_chunk(np.zeros((5, 14)), JOINT_NAMES, "p").shape == (5, 14)


def test_conditioning_validates_advantage_and_beta():
    with pytest.raises(ValueError, match="advantage"):
        Conditioning("great")
    with pytest.raises(ValueError, match="guidance_scale"):
        Conditioning("positive", 0.0)
    with pytest.raises(ValueError, match="noise_scale"):
        Conditioning("positive", 1.0, -0.5)


def test_remote_backend_round_trip_with_a_local_openpi_server():
    with OpenpiTestServer(horizon=8, offset=0.1, metadata={"supports_frozen_prefix": True}) as server:
        backend = RemoteBackend("127.0.0.1", server.port, Conditioning("positive", 1.5),
                                BackendMetadata(policy_id="fallback", joint_names=JOINT_NAMES,
                                                cameras=("cam_high",)))
        assert backend.metadata.policy_id == "test/openpi-server"  # the server's metadata wins
        assert backend.metadata.horizon == 8 and backend.metadata.cameras == ("cam_high",)
        obs = Observation(qpos=QPOS, stamp_ns=1, task="transfer cube", images={"cam_high": IMAGE})
        prefix = np.ones((2, 14))
        actions = backend.infer(obs, frozen_prefix=prefix)
        backend.close()
    np.testing.assert_allclose(actions, np.repeat((QPOS + 0.1)[None], 8, axis=0), atol=1e-6)
    request = server.requests[0]
    assert request["prompt"] == "transfer cube" and request["advantage"] == "positive"
    assert request["guidance_scale"] == pytest.approx(1.5) and request["noise_scale"] == pytest.approx(0.2)  # Conditioning's default
    np.testing.assert_array_equal(request["images"]["cam_high"], IMAGE.transpose(2, 0, 1))  # CHW like openpi
    np.testing.assert_allclose(request["frozen_prefix"], prefix)


def test_remote_backend_without_prefix_support_does_not_send_one():
    with OpenpiTestServer() as server:
        backend = RemoteBackend("127.0.0.1", server.port, Conditioning(), BackendMetadata(policy_id="x", joint_names=JOINT_NAMES))
        backend.infer(Observation(qpos=QPOS, stamp_ns=0), frozen_prefix=np.ones((2, 14)))
        backend.close()
    assert "frozen_prefix" not in server.requests[0]


def test_remote_backend_reports_an_unreachable_server_clearly():
    with OpenpiTestServer() as server:
        port = server.port
    with pytest.raises(ConnectionError, match=f"ws://127.0.0.1:{port}"):
        RemoteBackend("127.0.0.1", port, Conditioning(), BackendMetadata(policy_id="x", joint_names=JOINT_NAMES))


def test_remote_backend_refuses_a_reply_of_another_dimension():
    with OpenpiTestServer() as server:
        backend = RemoteBackend("127.0.0.1", server.port, Conditioning(),
                                BackendMetadata(policy_id="x", joint_names=JOINT_NAMES[:7]))
        with pytest.raises(InvalidChunk, match=r"replied actions of shape \(20, 14\); the robot description's "
                                               r"action_dim is 7"):
            backend.infer(Observation(qpos=QPOS, stamp_ns=0))  # the server answers state + offset: 14-D
        backend.close()
