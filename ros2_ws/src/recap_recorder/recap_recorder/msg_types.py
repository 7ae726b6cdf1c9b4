"""A rosbags typestore that knows the standard ROS 2 types and our recap_msgs.

recap_msgs is registered from its installed .msg files, so every bag carries the full
definitions and any rosbag2 reader (rosbags, mcap, `ros2 bag`) decodes our custom types.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

CUSTOM_PACKAGES = ("recap_msgs",)


def _share_dir(package: str) -> Path:
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(package))
    except Exception:  # no ament index on the path: search AMENT_PREFIX_PATH by hand
        for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
            cand = Path(prefix) / "share" / package
            if (cand / "msg").is_dir():
                return cand
    raise FileNotFoundError(f"cannot find the share directory of {package} (is the workspace sourced?)")


def message_definitions(package: str) -> dict[str, str]:
    """{'pkg/msg/Type': .msg text} for every message of an installed interface package."""
    msg_dir = _share_dir(package) / "msg"
    return {f"{package}/msg/{p.stem}": p.read_text() for p in sorted(msg_dir.glob("*.msg"))}


@lru_cache(maxsize=1)
def recap_typestore() -> Typestore:
    store = get_typestore(Stores.ROS2_KILTED)
    for package in CUSTOM_PACKAGES:
        types: dict = {}
        for name, text in message_definitions(package).items():
            types.update(get_types_from_msg(text, name))
        store.register(types)
    return store
