"""Offline RECAP trainer: bags to datasets, value function, advantages, advantage-conditioned policy, evaluation. No ROS imports."""
