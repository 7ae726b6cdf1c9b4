"""The scale of the flow's starting noise: 0 is deterministic, larger scales spread the samples, the
default is the documented deviation, and a bad value is refused."""

import numpy as np
import pytest

from recap_model.checkpoint import save_checkpoint
from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel
from recap_model.normalization import NormStats
from recap_model.policy import DEFAULT_NOISE_SCALE, load_policy
from recap_model.robot_layout import default_layout

ROBOT = default_layout().identity()  # the simulator's 14-D ALOHA

OBS = ObservationConfig(state_dim=3, tasks=("a",), width=16)
STATS = NormStats(mean={"qpos": np.zeros(14, np.float32), "env_state": np.zeros(3, np.float32),
                        "action": np.zeros(14, np.float32)},
                  std={"qpos": np.ones(14, np.float32), "env_state": np.ones(3, np.float32),
                       "action": np.ones(14, np.float32)})
OBSERVATION = {"qpos": np.zeros(14), "env_state": np.zeros(3), "task": "a"}


@pytest.fixture
def checkpoint(tmp_path):
    save_checkpoint(tmp_path, "policy", PolicyModel(PolicyConfig(observation=OBS, horizon=5, flow_width=32, flow_blocks=1)),
                    STATS, ROBOT, metadata={"control_period": 0.02})
    return tmp_path


def _spread(checkpoint, noise_scale: float) -> float:
    """Standard deviation over 8 samples of the same observation (different noise draws)."""
    policy = load_policy(checkpoint, seed=3, noise_scale=noise_scale)
    return float(np.stack([policy.infer(OBSERVATION) for _ in range(8)]).std(axis=0).mean())


def test_zero_noise_is_deterministic_and_the_spread_grows_with_the_scale(checkpoint):
    a = load_policy(checkpoint, seed=1, noise_scale=0.0).infer(OBSERVATION)
    b = load_policy(checkpoint, seed=2, noise_scale=0.0).infer(OBSERVATION)
    np.testing.assert_array_equal(a, b)
    spreads = [_spread(checkpoint, s) for s in (0.0, 0.5, 1.0)]
    assert spreads[0] < 1e-6 < spreads[1] < spreads[2]  # (float32 rounding of the std of equal rows)


def test_the_default_is_recorded_in_the_metadata(checkpoint):
    assert load_policy(checkpoint).metadata["noise_scale"] == DEFAULT_NOISE_SCALE == 0.2
    assert load_policy(checkpoint, noise_scale=1.0).metadata["noise_scale"] == 1.0


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_a_bad_noise_scale_is_refused(checkpoint, bad):
    with pytest.raises(ValueError, match="noise_scale must be a finite number >= 0"):
        load_policy(checkpoint, noise_scale=bad)
