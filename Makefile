# RECAP-ROS developer entry points. Every target sets itself up first (idempotent, seconds when done).
SHELL := /bin/bash
ENV := source scripts/env.sh &&
PYTEST := python -m pytest

.PHONY: setup build test test-py312 test-slow test-all bench run run-quick clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## venv with ROS 2 Kilted wheels + CPU torch + pinned deps, then colcon build
	@bash scripts/setup.sh

build: setup  ## (alias) colcon build of ros2_ws

test: setup  ## the default test suite (unit + real-DDS integration), under 15 minutes on 2 cores
	@$(ENV) $(PYTEST) -m "not slow" $(ARGS)

# LeRobot needs Python >= 3.12, the ROS wheels 3.11: the ROS-free packages' tests (test modules that
# import ROS, the simulator or rosbags are left out by tests/lerobot/plugin/ros_free_plugin.py) and the
# LeRobot tests run in .venv312.
test-py312:  ## the ROS-free tests and the LeRobot export tests in the Python 3.12 env (.venv312)
	@bash scripts/setup_py312.sh
	@PYTHONPATH=tests/lerobot/plugin HF_HUB_OFFLINE=1 .venv312/bin/python -m pytest -p ros_free_plugin -m "not slow" \
		tests/core tests/model tests/dataset tests/trainer tests/lerobot $(ARGS)

test-slow: setup  ## the slow suites (long training, soak)
	@$(ENV) $(PYTEST) -m slow $(ARGS)

test-all: setup
	@$(ENV) $(PYTEST) $(ARGS)

bench: setup  ## benchmarks in bench/: each prints the ratio to a baseline measured in the same run
	@$(ENV) for b in bench/bench_*.py; do echo "== $$b"; python $$b || exit 1; done

run: setup  ## the main job: the RECAP loop on the simulated espresso task through the ROS graph (<= 30 min)
	@$(ENV) python -m recap_lab loop --task espresso $(ARGS)

run-quick: setup  ## the same loop at smoke-test size (minutes)
	@$(ENV) python -m recap_lab loop --task espresso --quick $(ARGS)

clean:  ## remove build outputs (keeps the venv)
	rm -rf ros2_ws/build ros2_ws/install ros2_ws/log ros2_ws/colcon-build.log
