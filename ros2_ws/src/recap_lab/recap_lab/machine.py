"""What a result was measured on, in one line: the CPU, its cores, numpy's BLAS kernel, Python.

The BLAS kernel is part of it because the scripted expert's inverse kinematics goes through numpy's
BLAS, whose kernels round differently on different CPU families (OpenBLAS picks them at start-up);
contact-rich episodes then diverge, so a run seed gives the same demonstrations only on machines
with the same kernel (docs/BRINGUP.md, "Known limits").
"""
from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (Linux), else what `platform` knows."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_kernel() -> str:
    """numpy's BLAS library and the kernel family it chose for this CPU, e.g. 'openblas Haswell'."""
    import numpy  # noqa: F401  (loads the BLAS library that threadpoolctl then finds)
    from threadpoolctl import threadpool_info

    found = [f"{i['internal_api']} {i.get('architecture') or ''}".strip() for i in threadpool_info()
             if i["user_api"] == "blas"]
    return ", ".join(found) or "unknown"


def machine_summary() -> str:
    return (f"{platform.machine()} {cpu_model()}, {os.cpu_count()} cores, numpy BLAS {blas_kernel()}, "
            f"Python {platform.python_version()}")
