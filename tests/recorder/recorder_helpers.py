"""Helpers for the recorder's integration tests: a blocking service call, flushed-message counts."""
from __future__ import annotations

from pathlib import Path

from ros_harness import wait_until


def call_service(node, srv_type, name: str, request, timeout: float = 20.0):
    client = node.node.create_client(srv_type, name)
    wait_until(client.service_is_ready, timeout, f"service {name}")
    future = client.call_async(request)
    wait_until(future.done, timeout, f"response from {name}")
    return future.result()


def count_partial_messages(bag_dir: Path) -> dict[str, int]:
    """Messages per topic in the flushed part of a bag being written (read record by record)."""
    from recap_recorder.recovery import SalvageReport, iter_partial_mcap
    counts: dict[str, int] = {}
    for mcap in Path(bag_dir).glob("*.mcap"):
        for ch, _s, _t, _d in iter_partial_mcap(mcap, SalvageReport(str(mcap))):
            counts[ch.topic] = counts.get(ch.topic, 0) + 1
    return counts


def make_image(i: int, h: int = 48, w: int = 64):
    """An rgb8 sensor_msgs/Image filled with i % 256, stamped 100 s + i control periods."""
    import numpy as np
    from sensor_msgs.msg import Image
    img = Image(height=h, width=w, encoding="rgb8", step=w * 3)
    img.header.stamp.sec, img.header.stamp.nanosec = 100, i * 20_000_000
    img.data = np.full((h, w, 3), i % 256, np.uint8).tobytes()
    return img
