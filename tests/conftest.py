"""Session-wide test setup: an isolated DDS domain and helpers to run real nodes."""
from __future__ import annotations

import os
import random
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from leftover_processes import become_subreaper, running_descendants, stop_leftovers
from ros_harness import NodeProcess, SpinningNode


def pytest_configure(config: pytest.Config) -> None:
    # One ROS_DOMAIN_ID per test session (inherited by node processes), discovery on localhost
    # only: concurrent test runs on one machine stay apart. 1..100 keeps Fast DDS ports valid.
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    os.environ.setdefault("MUJOCO_GL", "egl")
    # Node processes started by tests import test-only modules (tests/processes) too.
    tests_dir = str(Path(__file__).parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")]))
    become_subreaper()


@pytest.fixture(autouse=True, scope="module")
def no_leftover_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    """Stops what the module's tests and fixtures left running (torn down after its other fixtures),
    with a warning that names the module and the processes."""
    before = set(running_descendants())
    yield
    stopped = stop_leftovers(before)
    if stopped:
        warnings.warn(f"{request.module.__name__} left {len(stopped)} process(es) running, stopped now: "
                      + "; ".join(stopped), pytest.PytestWarning, stacklevel=1)


@pytest.fixture
def domain_id() -> int:
    return int(os.environ["ROS_DOMAIN_ID"])


@pytest.fixture
def ros_node(request: pytest.FixtureRequest, domain_id: int) -> Iterator[SpinningNode]:
    """A spinning test node on its own context in this session's domain."""
    name = "test_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    with SpinningNode(name, domain_id=domain_id) as node:
        yield node


@pytest.fixture
def start_process(tmp_path: Path) -> Iterator:
    """Start `python -m module args` in a separate process; all are stopped at teardown.

    On failure the test's processes' logs are printed, so a crash is visible in the report.
    """
    started: list[NodeProcess] = []

    def start(module: str, *args: str, env: dict[str, str] | None = None) -> NodeProcess:
        proc = NodeProcess(module, list(args), tmp_path, env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        code = proc.stop()
        print(f"--- {proc.module} exited {code}; log:\n{proc.log_path.read_text()[-4000:]}")
