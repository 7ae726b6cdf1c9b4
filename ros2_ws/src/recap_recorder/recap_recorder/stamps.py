"""Header stamps straight from serialized CDR, without deserializing the message.

Every stamped ROS 2 message starts with std_msgs/Header, whose first field is
builtin_interfaces/Time (int32 sec, uint32 nanosec) right after the 4-byte CDR encapsulation.
"""
from __future__ import annotations

import struct

from recap_core.stamps import to_ns

_LE = struct.Struct("<iI")
_BE = struct.Struct(">iI")


def header_stamp_ns(data: bytes | memoryview) -> int | None:
    """Header stamp in ns, or None when the bytes are too short to hold one."""
    if len(data) < 12:
        return None
    little = data[1] & 0x01  # encapsulation id 0x0001 = CDR_LE, 0x0000 = CDR_BE
    sec, nanosec = (_LE if little else _BE).unpack_from(data, 4)
    return to_ns(sec, nanosec)
