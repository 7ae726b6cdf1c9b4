"""rosbag2 bags (MCAP and sqlite3; ours and plain `ros2 bag record` ones) -> RECAP episodes.

ROS-free: reads with `rosbags` (and the `mcap` library for truncated files), decodes images with
`rosbags.image`, aligns every stream to the control rate by header stamps.
"""
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.errors import BagError

__all__ = ["BagError", "ConverterConfig"]
