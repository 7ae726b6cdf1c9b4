"""The RECAP self-improvement loop (Algorithm 1) in simulation, through the ROS graph."""
