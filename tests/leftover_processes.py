"""Processes a test module leaves running, found and stopped when the module ends.

A node left running by a failed test goes on stepping its sim and took CPU from every test after
it (a suite ran 5x slower). pytest is made a child subreaper (Linux `prctl`), so a node whose
parent died first (a runner killed in its teardown) is reparented to pytest rather than to init
and can still be found among its descendants.
"""
from __future__ import annotations

import ctypes
import os

import psutil

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h

# Helpers the standard library starts once and keeps for the interpreter's lifetime.
LONG_LIVED = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def become_subreaper() -> bool:
    """Orphaned descendants are reparented to this process; False where the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def running_descendants() -> dict[int, psutil.Process]:
    """This process's live descendants (zombies excluded) by pid."""
    live = {}
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                live[proc.pid] = proc
        except psutil.NoSuchProcess:
            pass
    return live


def describe(proc: psutil.Process) -> str:
    try:
        return f"{proc.pid} {' '.join(proc.cmdline())[:160]}"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return str(proc.pid)


def stop_leftovers(before: set[int], grace_s: float = 5.0) -> list[str]:
    """Stop the descendants that were not running at `before` and are still running `grace_s` later
    (a process already on its way out is given the time to exit); returns what was stopped."""
    new = []
    for pid, proc in running_descendants().items():
        if pid in before:
            continue
        try:
            if any(name in " ".join(proc.cmdline()) for name in LONG_LIVED):
                continue
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        new.append(proc)
    if not new:
        return []
    _, alive = psutil.wait_procs(new, timeout=grace_s)
    stopped = [describe(proc) for proc in alive]
    for proc in alive:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, stubborn = psutil.wait_procs(alive, timeout=grace_s)
    for proc in stubborn:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    return stopped
