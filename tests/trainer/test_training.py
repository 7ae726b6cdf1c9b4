"""Training: smoke + resume, baselines' data selection, inference from the checkpoint, bad input."""

import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest

from trainer.conftest import TINY_MODEL, TINY_POLICY, make_episode, mixed_episodes, train_crashing_then_resume
from recap_trainer.algorithm import label_with_value
from recap_model.features import ObservationError
from recap_trainer.labels import LabelConfig
from recap_model.policy import load_policy
from recap_trainer.training.episodes import EpisodeCatalog, StepSampler, action_window
from recap_trainer.training.run import TrainConfig, clip_gradients, lr_factor
from recap_trainer.training.train_policy import PolicyTrainConfig, train_policy, training_episodes
from recap_trainer.training.train_value import train_value

TWO_STEPS = TrainConfig(steps=2, batch_size=4, warmup_steps=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """V, labels and a RECAP policy trained for a few steps on tiny data."""
    root = tmp_path_factory.mktemp("trained")
    catalog = EpisodeCatalog([mixed_episodes(6)])
    train_value(catalog, root / "value", TrainConfig(steps=4, batch_size=8, warmup_steps=1), model_sizes=TINY_MODEL)
    labels = label_with_value(catalog, root / "value", LabelConfig(stage="pretrain"))
    train_policy(catalog, root / "policy", TrainConfig(steps=4, batch_size=8, warmup_steps=1),
                 labels=labels, model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)
    return SimpleNamespace(root=root, catalog=catalog, labels=labels)


def test_a_run_that_crashed_resumes_to_the_uninterrupted_result(tmp_path, trained, monkeypatch):
    kw = dict(labels=trained.labels, model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)
    cat = trained.catalog
    config = TrainConfig(steps=5, batch_size=4, warmup_steps=1)  # cosine decay over all 5 steps
    train_policy(cat, tmp_path / "full", config, **kw)
    steps_at_crash = []

    def train(out, resume):
        if resume:  # checkpoints every step (5 // 5): three steps were done before the crash
            steps_at_crash.append(json.loads((out / "config.json").read_text())["training"]["steps_done"])
        train_policy(cat, out, config, resume=resume, **kw)

    train_crashing_then_resume(monkeypatch, train, tmp_path / "part")
    assert steps_at_crash == [3]
    full = json.loads((tmp_path / "full" / "loss.json").read_text())["losses"]
    resumed = json.loads((tmp_path / "part" / "loss.json").read_text())["losses"]
    assert len(resumed) == 5
    assert np.allclose(full, resumed, rtol=1e-5)
    assert (tmp_path / "part" / "loss.png").stat().st_size > 1000


def test_training_is_deterministic_with_a_seed(tmp_path, trained):
    kw = dict(labels=trained.labels, model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)
    for name in ("a", "b"):
        train_policy(trained.catalog, tmp_path / name, TWO_STEPS, **kw)
    a, b = (json.loads((tmp_path / n / "loss.json").read_text())["losses"] for n in ("a", "b"))
    assert a == b


def test_value_training_lowers_the_loss(tmp_path):
    catalog = EpisodeCatalog([mixed_episodes(4)])
    train_value(catalog, tmp_path / "v", TrainConfig(steps=60, batch_size=32, warmup_steps=5, lr=3e-3), model_sizes=TINY_MODEL)
    losses = json.loads((tmp_path / "v" / "loss.json").read_text())["losses"]
    assert np.mean(losses[-10:]) < 0.85 * np.mean(losses[:5])  # from ln(201) = 5.3 towards the returns' entropy


def test_policy_infers_chunks_per_interface(trained):
    policy = load_policy(trained.root / "policy")
    meta = policy.metadata
    assert meta["horizon"] == 8 and meta["uses_images"] is False and len(meta["joint_names"]) == 14
    assert meta["state_names"] == ["state_0", "state_1", "state_2", "state_3"] and meta["advantage_conditioned"]
    ep = trained.catalog.episode(0)
    obs = {"qpos": ep.qpos[3], "env_state": ep.env_state[3], "task": "transfer_cube"}
    chunk = policy.infer(obs)
    assert chunk.shape == (8, 14) and chunk.dtype == np.float32 and np.isfinite(chunk).all()
    prefix = ep.executed_action[:3]
    guided = policy.infer(obs, advantage="positive", guidance_scale=2.5, frozen_prefix=prefix)
    assert np.array_equal(guided[:3], prefix.astype(np.float32))
    assert policy.infer_batch([obs, obs]).shape == (2, 8, 14)
    assert policy.infer(obs, frozen_prefix=np.zeros((0, 14))).shape == (8, 14)  # nothing committed yet


def test_inference_bad_input_is_a_clear_error(trained):
    policy = load_policy(trained.root / "policy")
    ep = trained.catalog.episode(0)
    obs = {"qpos": ep.qpos[0], "env_state": ep.env_state[0], "task": "transfer_cube"}
    with pytest.raises(ObservationError, match="qpos contains NaN"):
        policy.infer({**obs, "qpos": np.full(14, np.nan)})
    with pytest.raises(ObservationError, match="qpos has shape \\(7,\\)"):
        policy.infer({**obs, "qpos": np.zeros(7)})
    with pytest.raises(ObservationError, match="env_state missing"):
        policy.infer({"qpos": ep.qpos[0], "task": "transfer_cube"})
    with pytest.raises(ObservationError, match="unknown task 'espresso'"):
        policy.infer({**obs, "task": "espresso"})
    with pytest.raises(ValueError, match="frozen_prefix must be"):
        policy.infer(obs, frozen_prefix=np.zeros((3, 7)))


def test_baselines_select_their_data(trained):
    cat = trained.catalog
    ids = lambda idx: {cat.summaries[k].episode_id for k in idx}  # noqa: E731
    assert ids(training_episodes(cat, PolicyTrainConfig("filtered_bc"), None)) == {
        s.episode_id for s in cat.summaries if s.outcome == "success"}
    assert len(training_episodes(cat, PolicyTrainConfig("bc"), None)) == len(cat)
    with pytest.raises(ValueError, match="needs advantage labels"):
        training_episodes(cat, PolicyTrainConfig("awr"), None)


@pytest.mark.parametrize("method", ["bc", "filtered_bc", "awr"])
def test_baselines_train_and_refuse_guidance(tmp_path, trained, method):
    labels = trained.labels if method == "awr" else None
    train_policy(trained.catalog, tmp_path / method, TWO_STEPS, PolicyTrainConfig(method), labels,
                 model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)
    policy = load_policy(tmp_path / method)
    ep = trained.catalog.episode(0)
    obs = {"qpos": ep.qpos[0], "env_state": ep.env_state[0], "task": "transfer_cube"}
    assert policy.infer(obs).shape == (8, 14)
    with pytest.raises(ValueError, match="no advantage conditioning"):
        policy.infer(obs, guidance_scale=1.5)


def test_image_policy_trains_and_infers(tmp_path):
    cams = ("cam_high", "cam_left_wrist")
    eps = [make_episode(f"i{i}", outcome="success", cameras=cams, seed=i, state_dim=0) for i in range(2)]
    train_policy(EpisodeCatalog([eps]), tmp_path / "img", TWO_STEPS, PolicyTrainConfig("bc"),
                 model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY, cameras=cams)
    policy = load_policy(tmp_path / "img")
    assert policy.metadata["uses_images"] and policy.metadata["image_size"] == [16, 16]
    big = np.zeros((32, 32, 3), np.uint8)  # resized to the model's 16 x 16
    chunk = policy.infer({"qpos": eps[0].qpos[0], "images": {c: big for c in cams}, "task": "transfer_cube"})
    assert chunk.shape == (8, 14)
    with pytest.raises(ObservationError, match="camera 'cam_left_wrist' missing"):
        policy.infer({"qpos": eps[0].qpos[0], "images": {"cam_high": big}, "task": "transfer_cube"})


def test_empty_dataset_is_an_error():
    with pytest.raises(ValueError, match="dataset is empty"):
        EpisodeCatalog([[]])


def test_bad_episodes_are_named(tmp_path):
    nan_ep = SimpleNamespace(**{**vars(make_episode("nanny")), "qpos": np.full((30, 14), np.nan)})
    with pytest.raises(ValueError, match="episode nanny: qpos contains NaN"):
        train_policy(EpisodeCatalog([[nan_ep]]), tmp_path / "n", TWO_STEPS, PolicyTrainConfig("bc"),
                     model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)
    base = make_episode("narrow")
    narrow = SimpleNamespace(**{**vars(base), "executed_action": base.executed_action[:, :7]})
    with pytest.raises(ValueError, match="episode narrow: actions have 7 dimensions"):
        train_policy(EpisodeCatalog([[narrow]]), tmp_path / "m", TWO_STEPS, PolicyTrainConfig("bc"),
                     model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)
    other_state = make_episode("wide", state_dim=9)
    with pytest.raises(ValueError, match="episode wide: env_state has 9 dimensions, episode ok of the same task"):
        train_policy(EpisodeCatalog([[make_episode("ok"), other_state]]), tmp_path / "w", TWO_STEPS,
                     PolicyTrainConfig("bc"), model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)


def test_sampler_and_action_window():
    cat = EpisodeCatalog([[make_episode("a", steps=5), make_episode("b", steps=15)]])
    episodes, steps = StepSampler(cat, np.array([0, 1])).sample(np.random.default_rng(0), 4000)
    assert abs((episodes == 0).mean() - 0.25) < 0.03  # uniform over steps
    assert all(t < cat.summaries[k].num_steps for k, t in zip(episodes, steps))
    window = action_window(np.arange(10.0)[:, None], 8, 4)
    assert window[:, 0].tolist() == [8, 9, 9, 9]


def test_one_state_only_model_serves_tasks_with_different_state_layouts(tmp_path):
    eps = [make_episode("a0", task="a", state_dim=4), make_episode("b0", task="b", state_dim=7, seed=1)]
    train_policy(EpisodeCatalog([eps]), tmp_path / "multi", TWO_STEPS, PolicyTrainConfig("bc"),
                 model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)
    policy = load_policy(tmp_path / "multi")
    assert policy.config.observation.state_dim == 7  # the narrower task is zero-padded
    assert {t: len(n) for t, n in policy.metadata["task_state_names"].items()} == {"a": 4, "b": 7}
    obs = [{"qpos": e.qpos[0], "env_state": e.env_state[0], "task": e.task} for e in eps]
    assert policy.infer_batch(obs).shape == (2, 8, 14)
    with pytest.raises(ObservationError, match="env_state of task 'b' has shape \\(4,\\)"):
        policy.infer({**obs[1], "env_state": eps[0].env_state[0]})


def test_catalog_keeps_state_only_episodes_as_owned_copies_and_bounds_image_episodes_by_bytes(tmp_path):
    from recap_trainer.dataset import DatasetConfig, DatasetWriter, RecapDataset
    from recap_trainer.normalization import compute_stats
    from recap_trainer.training.common import gather_observations, observation_config_for

    for name, cameras in (("state", ()), ("images", ("cam_high",))):
        writer = DatasetWriter(tmp_path / name, DatasetConfig(cameras=cameras, image_size=(32, 32) if cameras else None))
        for ep in mixed_episodes(6, cameras=cameras, image_size=(32, 32)):
            writer.append(ep)
    image_bytes = 45 * 32 * 32 * 3  # the longest image episode's frames
    state = EpisodeCatalog([RecapDataset(tmp_path / "state", max_open_episodes=2)], cache_bytes=10 * image_bytes)
    images = EpisodeCatalog([RecapDataset(tmp_path / "images", max_open_episodes=2)], cache_bytes=2 * image_bytes)
    for catalog in (state, images):
        config, stats = observation_config_for(catalog), compute_stats(catalog)
        sampler = StepSampler(catalog, np.arange(len(catalog)))
        for seed in range(5):
            episodes, steps = sampler.sample(np.random.default_rng(seed), 16)
            gather_observations(catalog, config, stats, episodes, steps)
    assert state.cached_episodes == 6  # small episodes: the whole dataset stays cached ...
    ep = state.episode(0)
    assert ep.qpos.flags.owndata and ep.executed_action.flags.owndata  # ... as copies, not file maps
    assert 1 <= images.cached_episodes <= 2  # image episodes: bounded by the byte budget
    frames = images.episode(0).images["cam_high"]
    assert not frames.flags.owndata  # frames stay views into the file map (never copied)
    with pytest.raises(ValueError, match="cache_bytes"):
        EpisodeCatalog([mixed_episodes(1)], cache_bytes=-1)


def test_learning_rate_warms_up_then_decays_by_cosine_to_its_floor():
    cosine = TrainConfig(steps=110, warmup_steps=10, lr_schedule="cosine", min_lr_ratio=0.05)
    factors = [lr_factor(cosine, s) for s in range(110)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0) and factors[60] == pytest.approx(0.525)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert lr_factor(cosine, 110) == pytest.approx(0.05)
    constant = TrainConfig(steps=110, warmup_steps=10, lr_schedule="constant")
    assert [lr_factor(constant, s) for s in (5, 50, 109)] == [pytest.approx(0.6), 1.0, 1.0]
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="linear")


@pytest.mark.parametrize("scale", [0.01, 100.0])
def test_gradient_clipping_matches_torch_whether_or_not_it_clips(scale):
    import torch

    def model_with_grads():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Linear(7, 3))
        (model(torch.randn(4, 5)).sum() * scale).backward()
        return model

    ours, reference = model_with_grads(), model_with_grads()
    before = [p.grad.clone() for p in ours.parameters()]
    norm = clip_gradients(ours, 1.0)
    assert norm == pytest.approx(float(torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)))
    for p, q in zip(ours.parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
    clipped = torch.nn.utils.get_total_norm([p.grad for p in ours.parameters()])
    assert float(clipped) == pytest.approx(min(norm, 1.0), rel=1e-4)
    assert (norm > 1.0) == (scale > 1.0)  # both branches are exercised
    if norm <= 1.0:
        assert all(torch.equal(p.grad, b) for p, b in zip(ours.parameters(), before))


def test_the_algorithms_stages_continue_an_interrupted_training_to_the_uninterrupted_result(tmp_path, monkeypatch,
                                                                                              caplog):
    """pretrain() and iterate() with resume=True (what the loop does after a crash or a stop)
    continue the policy an interruption left from its last save, not from random weights; the
    finished value functions before it train no further."""
    from recap_trainer.algorithm import AlgorithmConfig, iterate, pretrain

    catalog = EpisodeCatalog([mixed_episodes(6)])
    small = dict(batch_size=4, warmup_steps=1)
    cfg = AlgorithmConfig.from_pretraining(TrainConfig(steps=4, **small), TrainConfig(steps=10, **small),
                                           model_sizes=TINY_MODEL, policy_sizes=TINY_POLICY)
    pretrain(catalog, tmp_path / "full", cfg)
    iterate(catalog, tmp_path / "full", 1, cfg)
    # Interrupted at its policy's 4th batch, after a save at step 2 (every 10 // 5 steps) and at
    # step 3 (every 5 // 5).
    caplog.set_level(logging.INFO, logger="recap.train")
    train_crashing_then_resume(monkeypatch, lambda out, resume: pretrain(catalog, out, cfg, resume=resume),
                               tmp_path / "part")
    train_crashing_then_resume(monkeypatch, lambda out, resume: iterate(catalog, out, 1, cfg, resume=resume),
                               tmp_path / "part")
    for checkpoint in ("pretrained/value", "pretrained/policy", "iter_1/value", "iter_1/policy"):
        full, part = (json.loads((tmp_path / run / checkpoint / "loss.json").read_text())["losses"]
                      for run in ("full", "part"))
        assert len(part) == len(full) and np.allclose(full, part, rtol=1e-5), checkpoint
    continued = [r.getMessage() for r in caplog.records if "continuing its training" in r.getMessage()]
    part = tmp_path / "part"
    assert continued == [f"{part / 'pretrained' / 'value'}: continuing its training from step 4 of 4",
                         f"{part / 'pretrained' / 'policy'}: continuing its training from step 2 of 10",
                         f"{part / 'iter_1' / 'value'}: continuing its training from step 2 of 2",
                         f"{part / 'iter_1' / 'policy'}: continuing its training from step 3 of 5"]
