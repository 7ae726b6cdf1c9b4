"""scripts/setup.sh fails early and clearly on an unsupported Python or an unreachable package."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_setup(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "scripts/setup.sh")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RECAP_VENV": str(tmp_path / "venv"), **env})


def test_unsupported_python_is_named(tmp_path):
    fake = tmp_path / "python3.10"
    fake.write_text("#!/bin/sh\necho 3.10\n")
    fake.chmod(0o755)
    result = run_setup(tmp_path, RECAP_PYTHON=str(fake))
    assert result.returncode != 0
    assert "Python 3.10" in result.stderr and "CPython 3.11 only" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_missing_registry_package_is_a_clear_error(tmp_path):
    # No index and no local wheels: the first install (torch) cannot be found.
    result = run_setup(tmp_path, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path / "no-wheels"))
    assert result.returncode != 0
    assert "pip could not install: torch==2.13.0" in result.stderr
    assert "registry is reachable" in result.stderr
    assert not (tmp_path / "venv" / ".recap-setup-stamp").exists()  # a rerun will retry the install
