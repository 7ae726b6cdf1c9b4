#!/usr/bin/env bash
# Source ROS and the RECAP workspace, then run the command.
set -e
. "/opt/ros/${ROS_DISTRO}/setup.bash"
. "${RECAP_WS}/install/setup.bash"
exec "$@"
