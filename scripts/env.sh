# Source me: activates the project venv and the built workspace, and keeps DDS on this machine.
#   source scripts/env.sh
_recap_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_recap_venv="${RECAP_VENV:-$_recap_root/.venv}"
if [ ! -f "$_recap_venv/bin/activate" ] || [ ! -f "$_recap_root/ros2_ws/install/local_setup.bash" ]; then
  echo "RECAP-ROS is not set up yet: run 'make setup' (or scripts/setup.sh) first." >&2
  return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
. "$_recap_venv/bin/activate"
# local_setup (not setup.bash): the venv underlay has no setup files to chain.
# shellcheck disable=SC1091
. "$_recap_root/ros2_ws/install/local_setup.bash"
# ament_python console scripts live in install/<pkg>/lib/<pkg> (what `ros2 run` finds); put them on
# PATH so `recap`, `recap-bringup`, `recap-recover` work as plain commands without ros2cli.
for _recap_bin in "$_recap_root"/ros2_ws/install/recap_*/lib/recap_*; do
  [ -d "$_recap_bin" ] && PATH="$_recap_bin:$PATH"
done
unset _recap_bin
export PATH
export AMENT_PREFIX_PATH="${AMENT_PREFIX_PATH:+$AMENT_PREFIX_PATH:}$_recap_venv"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Discovery never leaves the machine (ROS 2 Iron+); override for a multi-machine setup.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
# Headless MuJoCo rendering.
export MUJOCO_GL="${MUJOCO_GL:-egl}"
# A pull that changed an interface (a new message field) needs a rebuild: until then the installed
# message classes are the old ones, and nodes fail on the missing field far from the cause.
_recap_msgs_lib="$_recap_root/ros2_ws/install/recap_msgs/lib/librecap_msgs__rosidl_generator_c.so"
if [ -f "$_recap_msgs_lib" ] && [ -n "$(find "$_recap_root/ros2_ws/src/recap_msgs" \( -name '*.msg' -o -name '*.srv' \) \
    -newer "$_recap_msgs_lib" -print -quit 2>/dev/null)" ]; then
  echo "RECAP-ROS: recap_msgs changed since the last build: run 'make setup' to rebuild the interfaces." >&2
fi
unset _recap_root _recap_venv _recap_msgs_lib
