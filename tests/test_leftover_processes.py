"""The suite's guard against processes a test leaves running (tests/leftover_processes.py)."""
import subprocess
import sys

import psutil

from leftover_processes import running_descendants, stop_leftovers

# Starts a grandchild that outlives its parent: an orphan, as a node is when its runner dies first.
ORPHAN = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], "
          "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid, flush=True)")


def test_an_orphaned_grandchild_is_found_and_stopped():
    before = set(running_descendants())
    out = subprocess.run([sys.executable, "-c", ORPHAN], capture_output=True, text=True, check=True).stdout
    orphan = psutil.Process(int(out))
    assert orphan.pid in running_descendants()  # reparented to this process (the subreaper), not to init
    stopped = stop_leftovers(before, grace_s=0.5)
    assert [line.split()[0] for line in stopped] == [str(orphan.pid)]
    orphan.wait(timeout=10)
    assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE


def test_processes_running_before_and_ones_that_exit_in_the_grace_time_are_left_alone():
    earlier = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        before = set(running_descendants())
        leaving = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
        assert stop_leftovers(before, grace_s=30) == []
        assert leaving.wait(timeout=10) == 0
        assert earlier.poll() is None
    finally:
        earlier.kill()
        earlier.wait()
