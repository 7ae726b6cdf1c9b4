"""A served tiny checkpoint and the in-process policy to compare its chunks with."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recap_model.policy import load_policy
from recap_trainer.serving.protocol import ServingDefaults
from recap_trainer.serving.recap_adapter import RecapPolicyAdapter
from recap_trainer.serving.server import PolicyServer, ServerConfig
from serve.checkpoints import write_image_checkpoint

SEED = 7


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return write_image_checkpoint(tmp_path_factory.mktemp("serve") / "policy")


@pytest.fixture
def server(checkpoint) -> Iterator[PolicyServer]:
    adapter = RecapPolicyAdapter(load_policy(checkpoint), ServingDefaults(seed=SEED))
    with PolicyServer(adapter, ServerConfig(port=0)) as s:
        yield s


def expected(checkpoint: Path, obs: dict, k: int = 0, noise_scale: float | None = None, **conditioning):
    """Chunk k of a connection, computed in-process: load_policy(seed=SEED + k).infer(obs, ...)."""
    kwargs = {} if noise_scale is None else {"noise_scale": noise_scale}
    return load_policy(checkpoint, seed=SEED + k, **kwargs).infer(obs, **conditioning)
