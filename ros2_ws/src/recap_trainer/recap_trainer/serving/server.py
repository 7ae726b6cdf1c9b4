"""A policy served over openpi's websocket protocol (openpi_client.WebsocketClientPolicy talks to it).

The policy is a PolicyAdapter (a RECAP checkpoint or a LeRobot policy); this module is the
connection handling both share. One thread per connection (websockets' sync server); inference is
serialised by one lock, so each request is answered with its own chunk whatever the other clients
send. Batching simultaneous requests through Policy.infer_batch would cost about half per chunk for
4 clients on CPU (bench/bench_serve.py), but Policy draws one noise tensor for the whole batch, so a
client's chunk would depend on who else was batched with it; the lock keeps chunks reproducible per seed.

Errors, as openpi's client sees them (a str frame instead of bytes raises RuntimeError with it):
a request the checkpoint cannot take gets "bad request: field '<name>': ..." and the connection
stays open, so the client can send a corrected request; an unexpected failure gets the traceback
and the connection is closed with 1011, as openpi's server does. GET /healthz answers 200 OK.
"""
from __future__ import annotations

import http
import logging
import threading
import time
import traceback
from dataclasses import dataclass

from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.sync.server import ServerConnection, serve

from recap_trainer.serving import wire
from recap_trainer.serving.policy_adapter import PolicyAdapter
from recap_trainer.serving.protocol import RequestError

log = logging.getLogger("recap.serve")


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"  # loopback by default: the protocol has no authentication
    port: int = 8000  # 0: any free port (tests); the bound one is PolicyServer.port

    def __post_init__(self) -> None:
        if not 0 <= self.port < 65536:
            raise ValueError(f"port must be in 0..65535, got {self.port}")


class PolicyServer:
    """Serves `adapter` until shutdown(); use as a context manager."""

    def __init__(self, adapter: PolicyAdapter, config: ServerConfig) -> None:
        self._adapter = adapter
        self.config = config
        self.metadata = adapter.metadata
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server = serve(self._handle, config.host, config.port, process_request=_health_check,
                             compression=None, max_size=None)
        self.host, self.port = self._server.socket.getsockname()[:2]

    def serve_forever(self) -> None:
        log.info("serving %s on ws://%s:%d (health: http://%s:%d/healthz)", self.metadata["policy_id"],
                 self.host, self.port, self.host, self.port)
        self._server.serve_forever()

    def start(self) -> "PolicyServer":
        """serve_forever() in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="recap-serve", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop accepting, close every connection (1001 going away) and wait for the serving thread."""
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        log.info("server on port %d stopped", self.port)

    def __enter__(self) -> "PolicyServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _handle(self, ws: ServerConnection) -> None:
        client = "%s:%d" % ws.remote_address[:2]
        log.info("client %s connected", client)
        chunks = 0  # chunk k of this connection samples with seed + k
        try:
            ws.send(wire.pack(self.metadata))
            for message in ws:
                try:
                    request = self._decode(message)
                    reply = self._infer(request, chunks)
                except RequestError as error:
                    log.warning("client %s: bad request: %s", client, error)
                    ws.send(f"bad request: {error}")
                    continue
                ws.send(wire.pack(reply))
                chunks += 1
        except ConnectionClosed as closed:
            log.info("client %s disconnected (%s) after %d chunk(s)", client, closed.rcvd or "no close frame", chunks)
            return
        except Exception:
            log.exception("client %s: inference failed; closing its connection", client)
            try:
                ws.send(traceback.format_exc())
                ws.close(CloseCode.INTERNAL_ERROR, "Internal server error. Traceback included in previous frame.")
            except ConnectionClosed:
                pass
            return
        log.info("client %s disconnected after %d chunk(s)", client, chunks)

    def _decode(self, message: bytes | str) -> object:
        if isinstance(message, str):
            raise RequestError("request", "must be a binary msgpack-numpy frame, got text")
        try:
            raw = wire.unpack(message)
        except Exception as error:  # any malformed payload is the client's, not the server's
            raise RequestError("request", f"is not msgpack-numpy: {error}") from None
        return self._adapter.parse(raw)

    def _infer(self, request: object, index: int) -> dict:
        with self._lock:
            start = time.perf_counter()
            actions = self._adapter.infer(request, index)
            infer_ms = 1e3 * (time.perf_counter() - start)
        return {"actions": actions, "policy_id": self.metadata["policy_id"], "server_timing": {"infer_ms": infer_ms}}


def _health_check(connection: ServerConnection, request):
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    return None  # everything else is a websocket handshake
