"""Helpers for the sim node tests: sim node arguments and blocking service calls."""
from __future__ import annotations

import threading

SIM_MODULE = "recap_sim.sim_node"
OPERATOR_MODULE = "recap_sim.operator_node"


def ros_args(defaults: dict, params: dict) -> list[str]:
    out = ["--ros-args"]
    for key, value in {**defaults, **params}.items():
        out += ["-p", f"{key}:={value}"]
    return out


def sim_args(**params) -> list[str]:
    """`--ros-args -p k:=v ...` for the sim node; small images, faster than real time."""
    return ros_args({"task": "transfer_cube", "image_width": 64, "image_height": 48, "real_time_factor": 2.0,
                     "reject_log_period_s": 0.0}, params)


def call(client, request, timeout: float = 20.0):
    """Call a service from a spinning test node and return the response (fails on timeout)."""
    assert client.wait_for_service(timeout_sec=timeout), f"service {client.srv_name} not available"
    future = client.call_async(request)
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    assert done.wait(timeout), f"{client.srv_name} did not answer within {timeout} s"
    return future.result()
