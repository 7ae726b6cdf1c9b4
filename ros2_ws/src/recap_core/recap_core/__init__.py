"""ROS-free shared definitions of RECAP-ROS: the robot joint layout and gripper conventions."""
