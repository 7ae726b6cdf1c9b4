"""Episode recorder: one rosbag2 (MCAP) per episode from raw subscriptions, with outcome and intervention labels."""
