"""Launch files, configuration and the single description of the RECAP-ROS node graph."""
