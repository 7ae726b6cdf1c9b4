"""Runs inference on its own thread so the control-rate timer never waits for the model."""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from recap_policy.backends.base import PolicyBackend, check_chunk
from recap_policy.command_stream import InferenceRequest, InferenceResult
from recap_policy.observation_builder import ObservationBuilder


class InferenceWorker:
    """One request at a time: build o_t (decoding images), infer, validate, hand the chunk back."""

    def __init__(self, backend: PolicyBackend, builder: ObservationBuilder,
                 on_result: Callable[[InferenceResult], None],
                 on_error: Callable[[InferenceRequest, Exception], None]) -> None:
        self._backend = backend
        self._builder = builder
        self._on_result = on_result
        self._on_error = on_error
        self._requests: queue.Queue[tuple[InferenceRequest, int] | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name="policy-inference", daemon=True)
        self._thread.start()

    def submit(self, request: InferenceRequest, now_ns: int) -> None:
        """`now_ns`: the node clock at submission (the observation must be fresh at that time)."""
        self._requests.put_nowait((request, now_ns))

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._requests.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)

    def _run(self) -> None:
        # No lower priority for this thread on purpose: it holds the GIL the timer needs, and a
        # de-prioritised GIL holder on a busy machine stalls the timer (priority inversion).
        while True:
            item = self._requests.get()
            if item is None:
                return
            request, now_ns = item
            started = time.monotonic()
            try:
                obs = self._builder.build(now_ns)
                raw = self._backend.infer(obs, request.frozen_prefix)
                actions = check_chunk(raw, self._backend.metadata.joint_names, self._backend.metadata.policy_id)
                result = InferenceResult(request, actions, time.monotonic() - started, obs.stamp_ns)
            except Exception as exc:  # reported by the node (logged, nothing executed); the loop goes on
                self._on_error(request, exc)
                continue
            self._on_result(result)
