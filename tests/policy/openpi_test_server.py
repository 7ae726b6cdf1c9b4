"""A tiny policy server speaking the openpi websocket protocol (for tests and the benchmark).

Same wire format as openpi's WebsocketPolicyServer: metadata dict on connect, then one msgpack-numpy
observation in, one dict with `actions` (H, D) out. The "policy" is deterministic: every row holds
the observed state plus `offset` (so a test can tell its commands apart) or a fixed `target` pose,
with a NaN in it when `emit_nan` is set.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from openpi_client import msgpack_numpy
from websockets.sync.server import serve


class OpenpiTestServer:
    def __init__(self, horizon: int = 20, offset: float = 0.05, metadata: dict | None = None,
                 delay_s: float = 0.0) -> None:
        self.horizon = horizon
        self.offset = offset
        self.delay_s = delay_s
        self.emit_nan = False
        self.target: np.ndarray | None = None  # when set, every row is this (14,) pose instead
        self.metadata = {"policy_id": "test/openpi-server", "horizon": horizon, **(metadata or {})}
        self.requests: list[dict] = []
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def actions_for(self, obs: dict) -> np.ndarray:
        state = np.asarray(obs["state"], dtype=np.float32)
        row = state + self.offset if self.target is None else np.asarray(self.target, dtype=np.float32)
        actions = np.repeat(row[None, :], self.horizon, axis=0)
        if self.emit_nan:
            actions[self.horizon // 2, 3] = np.nan
        return actions

    def _handle(self, ws) -> None:
        packer = msgpack_numpy.Packer()
        ws.send(packer.pack(self.metadata))
        for message in ws:
            obs = msgpack_numpy.unpackb(message)
            self.requests.append(obs)
            if self.delay_s:
                time.sleep(self.delay_s)
            ws.send(packer.pack({"actions": self.actions_for(obs)}))

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def __enter__(self) -> "OpenpiTestServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
