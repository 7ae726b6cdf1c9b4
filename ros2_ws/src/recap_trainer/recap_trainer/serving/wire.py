"""openpi's msgpack-numpy frames, byte for byte as openpi_client.msgpack_numpy packs them.

Arrays travel as {__ndarray__, data, dtype, shape} maps and numpy scalars as {__npgeneric__, data,
dtype}; object, void and complex dtypes are refused (openpi never falls back to pickle). The server
has its own codec because openpi-client pins numpy < 2, which the LeRobot env (numpy 2) cannot
install; tests/serve checks that both codecs read each other's frames.
"""
from __future__ import annotations

import msgpack
import numpy as np


def _encode(obj: object) -> object:
    if isinstance(obj, (np.ndarray, np.generic)) and obj.dtype.kind in ("V", "O", "c"):
        raise ValueError(f"Unsupported dtype: {obj.dtype}")
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": obj.shape}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def _decode(obj: dict) -> object:
    if b"__ndarray__" in obj:
        return np.ndarray(buffer=obj[b"data"], dtype=np.dtype(obj[b"dtype"]), shape=obj[b"shape"])
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


def pack(obj: object) -> bytes:
    return msgpack.packb(obj, default=_encode)


def unpack(frame: bytes) -> object:
    return msgpack.unpackb(frame, object_hook=_decode)
