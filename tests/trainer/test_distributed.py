"""`torchrun` with 2 gloo processes follows the 1-process loss curve (same global batches)."""

import json
import os
import signal
import subprocess
import sys

import numpy as np

from trainer.conftest import mixed_episodes
from recap_trainer.dataset import DatasetWriter


def test_two_process_loss_curve_matches_one_process(tmp_path):
    writer = DatasetWriter(tmp_path / "data")
    for ep in mixed_episodes(4):
        writer.append(ep)
    common = ["train-policy", "--data", str(tmp_path / "data"), "--method", "bc", "--steps", "4",
              "--batch-size", "8", "--horizon", "8", "--denoising-steps", "2", "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run([sys.executable, "-m", "recap_trainer.cli", *common, "--out", str(tmp_path / "one")], env)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    run([*torchrun, "-m", "recap_trainer.cli", *common, "--out", str(tmp_path / "two")], env)
    one, two = (json.loads((tmp_path / n / "loss.json").read_text())["losses"] for n in ("one", "two"))
    assert len(one) == len(two) == 4
    assert np.allclose(one, two, rtol=1e-4)


def run(cmd: list[str], env: dict) -> None:
    """Run in its own process group so that a hang kills torchrun's workers too."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, out.decode()[-3000:]
