"""Model pieces: flow-matching sampling (guidance, frozen prefix), value bins, encoders."""

import pytest
import torch

from recap_model.models import (
    DROPPED, NEGATIVE, POSITIVE, ObservationConfig, PolicyConfig, PolicyModel, ValueConfig, ValueModel, indicator_id,
)
from recap_model.models.flow_matching import (
    MIN_REMAINING, VelocityNetwork, flow_matching_loss, sample_chunk, sample_tau,
)


def tiny_policy(**obs) -> PolicyModel:
    torch.manual_seed(0)
    config = PolicyConfig(observation=ObservationConfig(state_dim=3, tasks=("a", "b"), width=16, **obs),
                          horizon=6, flow_width=32, flow_blocks=1, denoising_steps=4)
    model = PolicyModel(config)
    for block in model.velocity.blocks:  # blocks start as the identity; make them depend on c
        torch.nn.init.normal_(block.fc2.weight, std=0.2)
    return model


def batch(n: int = 2, cams: int = 0) -> dict:
    b = {"qpos": torch.randn(n, 14), "env_state": torch.randn(n, 3), "task_id": torch.tensor([0, 1] * (n // 2))}
    if cams:
        b["images"] = torch.randint(0, 255, (n, cams, 3, 16, 16), dtype=torch.uint8)
    return b


def test_sampling_with_constant_velocity_integrates_to_noise_plus_velocity():
    noise = torch.zeros(1, 4, 2)
    out = sample_chunk(lambda x, t: torch.ones_like(x), noise, num_steps=5)
    assert torch.allclose(out, torch.ones(1, 4, 2))


def test_frozen_prefix_is_kept_exactly_and_seen_during_denoising():
    seen = []

    def velocity(x, t):
        seen.append(x[:, :2].clone())
        return torch.zeros_like(x)

    noise = torch.randn(1, 5, 3)
    prefix = torch.full((1, 2, 3), 7.0)
    out = sample_chunk(velocity, noise, num_steps=4, frozen_prefix=prefix)
    assert torch.equal(out[:, :2], prefix)
    assert torch.equal(out[:, 2:], noise[:, 2:])
    # replacement inpainting: at tau = k/4 the prefix slots hold (1 - tau) * eps + tau * prefix
    assert torch.allclose(seen[2], 0.5 * noise[:, :2] + 0.5 * prefix)


def test_guidance_scale_one_is_the_conditional_policy_and_beta_extrapolates():
    model = tiny_policy().eval()
    b, noise = batch(2), torch.randn(2, 6, 14)
    cond = model.sample(b, POSITIVE, 1.0, noise)
    uncond = model.sample(b, DROPPED, 1.0, noise)
    assert not torch.allclose(cond, uncond)
    # one Euler step: x1 = eps + v, so the guided step is exactly uncond + beta (cond - uncond)
    c1 = model.sample(b, POSITIVE, 1.0, noise, num_steps=1)
    u1 = model.sample(b, DROPPED, 1.0, noise, num_steps=1)
    g1 = model.sample(b, POSITIVE, 2.5, noise, num_steps=1)
    assert torch.allclose(g1, u1 + 2.5 * (c1 - u1), atol=1e-5)


def test_indicator_changes_the_loss_and_weights_reweight_samples():
    model = tiny_policy()
    b = batch(2)
    b["actions"] = torch.randn(2, 6, 14)
    noise, tau = torch.randn(2, 6, 14), torch.rand(2)
    b["indicator"] = torch.tensor([POSITIVE, POSITIVE])
    pos = model.loss(b, noise, tau)
    b["indicator"] = torch.tensor([NEGATIVE, NEGATIVE])
    assert not torch.isclose(pos, model.loss(b, noise, tau))
    only_first = model.loss(b, noise, tau, weights=torch.tensor([2.0, 0.0]))
    b1 = {k: v[:1] for k, v in b.items()}
    assert torch.isclose(only_first, model.loss(b1, noise[:1], tau[:1]))  # weights have mean 1


def test_flow_matching_loss_is_the_clean_chunk_error_of_the_head_at_every_flow_time():
    a, eps, tau = torch.randn(3, 4, 2), torch.randn(3, 4, 2), torch.tensor([0.0, 0.5, 0.99])

    def head(offset: torch.Tensor):  # a velocity the way VelocityNetwork derives it from its clean chunk
        return lambda x, t: (a + offset - x) / (1 - t).clamp(min=MIN_REMAINING).view(-1, 1, 1)
    assert flow_matching_loss(head(torch.zeros_like(a)), a, eps, tau) < 1e-12  # also at tau = 0.99
    # a clean chunk off by d costs d^2 at every tau, also past the cap (no overshooting target there)
    d = torch.full_like(a, 0.3)
    assert torch.isclose(flow_matching_loss(head(d), a, eps, tau), torch.tensor(0.09))
    # below the cap this is Eq. 3 weighted by (1 - tau)^2: a velocity error e costs ((1 - tau) e)^2
    below = torch.tensor([0.0, 0.5, 0.9])
    e = torch.ones_like(a)
    expected = (torch.tensor([1.0, 0.5, 0.1]) ** 2).mean()
    assert torch.isclose(flow_matching_loss(lambda x, t: a - eps + e, a, eps, below), expected)


def test_training_flow_times_favour_the_noisy_end_like_pi0():
    tau = sample_tau(200_000, torch.Generator().manual_seed(0))
    assert 0.0 <= tau.min() and tau.max() <= 0.999
    # (0.999 - tau) / 0.999 ~ Beta(1.5, 1): mean 0.6, so E[tau] = 0.999 * 0.4
    assert abs(tau.mean().item() - 0.3996) < 0.003
    assert (tau < 0.5).float().mean() > 0.6  # P(tau < 0.5) = 1 - 0.5^1.5 = 0.65
    assert torch.equal(tau[:5], sample_tau(200_000, torch.Generator().manual_seed(0))[:5])


def test_image_policy_handles_three_cameras():
    model = tiny_policy(cameras=("cam_high", "cam_left_wrist", "cam_right_wrist"), image_size=(16, 16),
                        image_channels=(8, 8))
    out = model.sample(batch(2, cams=3), POSITIVE, 1.5, torch.randn(2, 6, 14))
    assert out.shape == (2, 6, 14) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="at most 3"):
        ObservationConfig(cameras=("a", "b", "c", "d"))


def test_value_bins_and_expected_value():
    model = ValueModel(ValueConfig(observation=ObservationConfig(state_dim=3, tasks=("a", "b"), width=16)))
    idx = model.discretize(torch.tensor([-1.0, -0.5, 0.0, -0.0024, -3.0]))
    assert idx.tolist() == [0, 100, 200, 200, 0]
    logits = torch.full((1, 201), -1e9)
    logits[0, 50] = 0
    assert torch.isclose(model.expected_value(logits), torch.tensor([-0.75]))
    assert model(batch(2)).shape == (2, 201)


def test_value_model_is_smaller_than_the_policy():
    v = ValueModel(ValueConfig(observation=ObservationConfig(state_dim=20, tasks=("a",), width=128)))
    p = PolicyModel(PolicyConfig(observation=ObservationConfig(state_dim=20, tasks=("a",))))
    assert sum(x.numel() for x in v.parameters()) < sum(x.numel() for x in p.parameters()) / 5


def test_unknown_indicator_and_task_are_errors():
    with pytest.raises(ValueError, match="advantage must be one of"):
        indicator_id("great")
    with pytest.raises(KeyError, match="unknown task 'c'"):
        ObservationConfig(tasks=("a", "b")).task_id("c")


def test_the_clean_chunk_has_a_path_from_the_condition_that_bypasses_the_noisy_input():
    """The conditional mean chunk must not have to be read past the noise: with the noisy-chunk path
    silenced, the head's clean chunk is the same for any noise and still follows the condition
    (without this branch the espresso policies hardly followed the cup; docs/TRAINER.md)."""
    torch.manual_seed(0)
    net = VelocityNetwork(horizon=4, action_dim=2, cond_width=8, width=16, blocks=1)
    torch.nn.init.zeros_(net.out.weight)
    torch.nn.init.zeros_(net.out.bias)
    cond, tau = torch.randn(2, 8), torch.zeros(2)
    x1, x2 = torch.randn(2, 4, 2), torch.randn(2, 4, 2)
    clean1, clean2 = x1 + net(x1, tau, cond), x2 + net(x2, tau, cond)  # at tau = 0, clean = x + v
    assert torch.allclose(clean1, clean2, atol=1e-6)
    assert (clean1[0] - clean1[1]).abs().max() > 1e-3


def test_the_default_action_head_fits_chunks_wider_than_its_hidden_layers():
    """H x D = 700 > flow_width = 512: a head that had to pass the noise through its hidden layers
    (velocity output) cannot fit even four deterministic chunks; the clean-chunk head can."""
    torch.manual_seed(0)
    config = PolicyConfig(observation=ObservationConfig(state_dim=3, width=64), flow_blocks=2)
    assert config.horizon * config.action_dim > config.flow_width
    model = PolicyModel(config)
    obs = {"qpos": torch.randn(4, 14), "env_state": torch.randn(4, 3), "task_id": torch.zeros(4, dtype=torch.long)}
    # smooth, distinct target chunks (normalised units)
    phase = torch.linspace(0, 3, config.horizon)[None, :, None] + torch.arange(14)[None, None, :] * 0.3
    targets = torch.sin(phase + torch.arange(4.0)[:, None, None])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(400):
        rows = torch.randint(0, 4, (64,))
        b = {k: v[rows] for k, v in obs.items()}
        b["actions"], b["indicator"] = targets[rows], torch.full((64,), DROPPED)
        loss = model.loss(b, torch.randn(64, config.horizon, 14), torch.rand(64))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    chunks = model.sample(obs, DROPPED, 1.0, torch.randn(4, config.horizon, 14))
    assert (chunks - targets).abs().mean() < 0.1
