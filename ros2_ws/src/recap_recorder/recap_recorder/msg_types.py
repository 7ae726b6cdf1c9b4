"""A rosbags typestore that knows the standard ROS 2 types, our recap_msgs and installed driver messages.

recap_msgs (and a driver's message package where it is installed, e.g. interbotix_xs_msgs) are
registered from their installed .msg files, so every bag carries the full definitions and any
rosbag2 reader (rosbags, mcap, `ros2 bag`) decodes our custom types.
"""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

CUSTOM_PACKAGES = ("recap_msgs",)
OPTIONAL_PACKAGES = ("interbotix_xs_msgs",)  # robot drivers' command messages, where installed


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
    optional = [p for p in OPTIONAL_PACKAGES if importlib.util.find_spec(p) is not None]
    for package in (*CUSTOM_PACKAGES, *optional):
        types: dict = {}
        for name, text in message_definitions(package).items():
            types.update(get_types_from_msg(text, name))
        store.register(types)
    return store


def msgtype_available(msgtype: str) -> bool:
    """Whether the recorder can subscribe to (rclpy) and write (typestore) this type."""
    package = msgtype.split("/")[0]
    return importlib.util.find_spec(package) is not None and msgtype in recap_typestore().types
