"""lerobot-train trains on the export with LeRobot's default dataset settings (its normalisation
reads meta/stats.json as written): ACT on cameras + state, and on a state-only export (where it
needs observation.environment_state). Tiny models, a few CPU steps, no pretrained weights (no hub)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("lerobot.datasets", reason="LeRobot runs in the Python 3.12 env: make test-py312")

from export_fixtures import export, state_only_export  # noqa: E402,F401

TINY = {
    "act": ["--policy.pretrained_backbone_weights=null", "--policy.chunk_size=4", "--policy.n_action_steps=4",
            "--policy.dim_model=32", "--policy.dim_feedforward=64", "--policy.n_encoder_layers=1",
            "--policy.n_decoder_layers=1"],
}


def train(root, policy: str, out) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "lerobot.scripts.lerobot_train", "--dataset.repo_id=recap/aloha",
           f"--dataset.root={root}", f"--policy.type={policy}", "--policy.device=cpu", "--policy.push_to_hub=false",
           *TINY[policy], "--steps=2", "--batch_size=2", "--num_workers=0", "--log_freq=1", "--save_freq=2",
           "--wandb.enable=false", f"--output_dir={out}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "HF_HUB_OFFLINE": "1"})


@pytest.mark.parametrize("fixture", ["export", "state_only_export"])
def test_lerobot_train_runs_on_the_export(fixture, request, tmp_path):
    result = train(request.getfixturevalue(fixture), "act", tmp_path / "run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "step:2 " in result.stdout + result.stderr
    assert (tmp_path / "run" / "checkpoints" / "000002" / "pretrained_model" / "model.safetensors").is_file()
