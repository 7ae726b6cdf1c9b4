"""The server's msgpack-numpy codec against openpi_client's, and `recap serve`'s choice of policy kind
in the main env (no lerobot)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from openpi_client import msgpack_numpy

from recap_trainer.cli import main
from recap_trainer.cli.options import UsageError
from recap_trainer.serving import wire

FRAME = {"state": np.arange(14, dtype=np.float32), "images": {"cam_high": np.zeros((3, 4, 5), np.uint8)},
         "prompt": "transfer_cube", "guidance_scale": np.float32(1.5), "frozen_prefix": np.ones((2, 14)),
         "nested": [1, "a", {"b": np.int64(3)}], "server_timing": {"infer_ms": 1.25}}


def assert_same(got, want) -> None:
    assert type(got) is type(want), (got, want)
    if isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w)
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    else:
        assert got == want


def test_frames_are_byte_for_byte_openpis_and_each_side_reads_the_other():
    assert wire.pack(FRAME) == msgpack_numpy.packb(FRAME)
    assert_same(wire.unpack(msgpack_numpy.packb(FRAME)), msgpack_numpy.unpackb(msgpack_numpy.packb(FRAME)))
    assert_same(msgpack_numpy.unpackb(wire.pack(FRAME)), wire.unpack(wire.pack(FRAME)))
    with pytest.raises(ValueError, match="Unsupported dtype: object"):
        wire.pack({"bad": np.array([object()])})


@pytest.mark.skipif(importlib.util.find_spec("lerobot.policies") is not None, reason="this env has lerobot")
def test_lerobot_in_the_main_env_names_the_312_env(tmp_path):
    with pytest.raises(RuntimeError, match=r"needs the Python 3\.12 env with lerobot: make test-py312 / "
                                           r"scripts/setup_py312\.sh"):
        main(["serve", "--lerobot", str(tmp_path)])


@pytest.mark.parametrize("argv, message", [
    (["serve"], "give either a RECAP CHECKPOINT or --lerobot POLICY_DIR"),
    (["serve", "ckpt", "--lerobot", "policy"], "give either a RECAP CHECKPOINT or --lerobot POLICY_DIR"),
    (["serve", "ckpt", "--fps", "50"], "--fps is for --lerobot policies"),
])
def test_the_policy_kind_is_one_of_the_two(argv, message):
    with pytest.raises(UsageError, match=message):
        main(argv)
