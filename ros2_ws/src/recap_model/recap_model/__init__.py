"""RECAP models and inference without ROS, the trainer or the simulator: the policy and value
networks, the checkpoint format and its safe loading, observation features, normalisation stats,
action frames, `load_policy`, and the chunk scheduling that executes action chunks."""
