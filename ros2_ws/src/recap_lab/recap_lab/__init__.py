"""The lab where RECAP policies are made and measured in simulation: demonstrations (scripted
expert), in-process rollouts and evaluation, statistics, reports and plots, experiments, and the
RECAP loop that deploys policies through the live ROS graph. It ties recap_trainer, recap_sim and
recap_bringup together; none of them imports it."""
