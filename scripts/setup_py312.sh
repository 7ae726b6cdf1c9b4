#!/usr/bin/env bash
# Idempotent setup of the Python 3.12 environment (.venv312, or $RECAP_VENV312) for LeRobot work and
# `make test-py312`: LeRobot 0.6 needs Python >= 3.12 while the ROS 2 wheels of the main .venv are
# CPython 3.11 only. It holds torch, lerobot and the rest pinned in requirements-py312.txt, plus the
# ROS-free packages recap_core, recap_model and recap_trainer installed editable from ros2_ws/src
# (edits take effect at once). No ROS, no MuJoCo. A second run skips what is up to date (seconds).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RECAP_VENV312:-$ROOT/.venv312}"
PYTHON="${RECAP_PYTHON312:-}"
PACKAGES=(recap_core recap_model recap_trainer)

say() { printf '\033[1m[setup-py312]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup-py312] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Concurrent runs wait for each other instead of racing on pip.
exec 9<"$0"
flock 9

# --- 1. interpreter: python3.12 on PATH, else pyenv's -------------------------------------------
if [ -z "$PYTHON" ]; then
  if command -v python3.12 >/dev/null 2>&1 && python3.12 -c '' 2>/dev/null; then
    PYTHON="$(command -v python3.12)"
  elif command -v pyenv >/dev/null 2>&1; then
    PYTHON="$(ls -d "$(pyenv root)"/versions/3.12.*/bin/python 2>/dev/null | sort -V | tail -1 || true)"
  fi
fi
[ -n "$PYTHON" ] || die "no Python 3.12 found (python3.12 on PATH or pyenv's 3.12.x). Install CPython 3.12 or set RECAP_PYTHON312=/path/to/python3.12."
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$PYVER" = "3.12" ] || die "Python $PYVER at $PYTHON is not 3.12 (requirements-py312.txt is pinned for CPython 3.12). Set RECAP_PYTHON312=/path/to/python3.12."

# --- 2. virtual environment + packages, redone only when the pins or this script change ----------
STAMP="$VENV/.recap-setup-stamp"
WANT="$(cat "$ROOT/requirements-py312.txt" "$0" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV ($PYTHON)"
  "$PYTHON" -m venv "$VENV" || die "could not create a venv with $PYTHON"
fi
# A venv whose pyvenv.cfg is gone runs as the base interpreter: pip would install into pyenv's Python.
"$VENV/bin/python" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)' \
  || die "$VENV is not a working virtual environment (pyvenv.cfg missing?): remove it and rerun"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
pip_or_die() {
  # (grep drops this machine's harmless "Location ... is ignored" notes from the pip config)
  { "${PIP[@]}" install -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); } || die "pip could not install: $*. Check that the package registry is reachable and has these versions (see requirements-py312.txt)."
}
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  say "installing torch, lerobot and the pinned deps (requirements-py312.txt); a few minutes the first time"
  pip_or_die -r "$ROOT/requirements-py312.txt"
  editable=()
  for pkg in "${PACKAGES[@]}"; do editable+=(-e "$ROOT/ros2_ws/src/$pkg"); done
  pip_or_die --no-deps "${editable[@]}"
  # setuptools leaves <pkg>.egg-info in the source tree; colcon keeps its own under ros2_ws/build.
  for pkg in "${PACKAGES[@]}"; do rm -rf "$ROOT/ros2_ws/src/$pkg/$pkg.egg-info"; done
  echo "$WANT" > "$STAMP"
else
  say "packages up to date"
fi
"$VENV/bin/python" -c "import lerobot, recap_trainer.lerobot_export" || die "$VENV cannot import lerobot / recap_trainer"
say "done. Run the tests with: make test-py312"
