"""Eq. 5 rewards, takeover splits, n-step advantages, thresholds and indicators."""

from types import SimpleNamespace

import numpy as np
import pytest

from trainer.conftest import make_episode
from recap_trainer.advantages import n_step_advantages, threshold_for_fraction
from recap_trainer.labels import LabelConfig, Labels, compute_labels
from recap_trainer.rewards import LabelError, RewardConfig, TaskReward, episode_returns, takeover_frames

REWARD = TaskReward(max_episode_length=10, c_fail=10)  # normaliser L + C_fail = 20


def test_success_returns_count_remaining_steps():
    r = episode_returns("e", 4, "success", np.zeros(4, bool), REWARD, "first")
    assert np.allclose(r.returns * 20, [-3, -2, -1, 0])
    assert np.allclose(r.rewards * 20, [-1, -1, -1, 0])


def test_failure_returns_include_c_fail_and_stay_in_range():
    r = episode_returns("e", 10, "failure", np.zeros(10, bool), REWARD, "first")
    assert np.isclose(r.returns[-1] * 20, -10)
    assert np.isclose(r.returns[0] * 20, -9 - 10)
    assert r.returns.min() >= -1 and r.returns.max() <= 0


def test_returns_split_at_first_takeover():
    flags = np.array([0, 0, 0, 1, 1, 0, 0, 1, 0], bool)
    assert takeover_frames(flags, "first") == [3]
    assert takeover_frames(flags, "every") == [3, 7]
    assert takeover_frames(flags, "none") == []
    r = episode_returns("e", 9, "success", flags, REWARD, "first")
    # the policy's segment [0, 3) ends in a (takeover) failure, the rest gets the episode's success
    assert np.allclose(r.returns[:3] * 20, [-12, -11, -10])
    assert np.allclose(r.returns[3:] * 20, [-5, -4, -3, -2, -1, 0])
    assert r.segment_end.tolist() == [3] * 3 + [9] * 6


def test_episode_longer_than_max_length_and_missing_outcome_are_errors():
    with pytest.raises(LabelError, match="episode long: 11 steps"):
        episode_returns("long", 11, "success", np.zeros(11, bool), REWARD, "first")
    with pytest.raises(LabelError, match="episode x: outcome None"):
        episode_returns("x", 3, None, np.zeros(3, bool), REWARD, "first")


def test_n_step_advantage_matches_hand_computation():
    rewards = np.array([-1, -1, -1, -1, 0.0])
    values = np.array([-4, -3, -2.5, -1, 0.0])
    end = np.full(5, 5)
    adv = n_step_advantages(rewards, values, end, n=2)
    # A_0 = r0 + r1 + V(2) - V(0) = -2 - 2.5 + 4; A_3 = r3 + r4 (episode end, no bootstrap) - V(3)
    assert np.isclose(adv[0], -0.5) and np.isclose(adv[3], -1 + 1) and np.isclose(adv[4], 0)
    mc = n_step_advantages(rewards, values, end, n=None)
    assert np.allclose(mc, np.cumsum(rewards[::-1])[::-1] - values)


def test_threshold_sets_the_positive_fraction():
    adv = np.random.default_rng(0).normal(size=10_000)
    eps = threshold_for_fraction(adv, 0.3)
    assert abs((adv > eps).mean() - 0.3) < 0.01


def _rewards(*tasks):
    return RewardConfig(tasks={t: TaskReward(60, 60) for t in tasks})


def _values(ep):
    return np.linspace(-0.5, -0.1, len(ep.timestamps))


def test_interventions_are_forced_positive_and_demos_in_sft():
    flags = np.zeros(40, bool)
    flags[10:20] = True
    eps = [make_episode("r0", outcome="success", steps=40, source="rollout", intervention=flags),
           make_episode("r1", outcome="failure", steps=30, source="rollout"),
           make_episode("d0", outcome="success", steps=25, source="demo")]
    rng = np.random.default_rng(0)
    noisy = {e.episode_id: rng.uniform(-0.6, -0.1, len(e.timestamps)) for e in eps}
    values = lambda ep: noisy[ep.episode_id]  # noqa: E731
    labels = compute_labels(eps, values, _rewards("transfer_cube"), LabelConfig(stage="finetune"))
    assert labels.indicator["r0"][10:20].all()
    above = labels.advantage["d0"] > labels.thresholds["transfer_cube"]
    assert np.array_equal(labels.indicator["d0"], above) and not above.all()  # finetune: by advantage
    sft = compute_labels(eps, values, _rewards("transfer_cube"), LabelConfig(stage="sft"))
    assert sft.indicator["d0"].all()
    assert sft.info["n_step"] == 50 and labels.info["positive_fraction"]["transfer_cube"] == 0.4


def test_pretrain_threshold_is_per_task_on_demos():
    eps = [make_episode(f"a{i}", task="a", outcome=o, steps=30 + i, seed=i) for i, o in enumerate(["success", "failure"] * 3)]
    eps += [make_episode(f"b{i}", task="b", outcome="success", steps=20 + i, seed=i) for i in range(4)]
    labels = compute_labels(eps, _values, _rewards("a", "b"), LabelConfig(stage="pretrain", task_positive_fraction={"b": 0.1}))
    assert labels.info["n_step"] is None
    assert set(labels.thresholds) == {"a", "b"}
    for task, frac in (("a", 0.3), ("b", 0.1)):
        flags = np.concatenate([labels.indicator[e.episode_id] for e in eps if e.task == task])
        assert abs(flags.mean() - frac) < 0.05


def test_task_without_success_is_an_error_naming_it():
    eps = [make_episode("ok", task="a"), make_episode("bad", task="espresso", outcome="failure")]
    with pytest.raises(LabelError, match="task 'espresso' has no successful episode"):
        compute_labels(eps, _values, _rewards("a", "espresso"), LabelConfig())


def test_aborted_left_out_and_missing_outcome_and_empty_are_errors():
    eps = [make_episode("ok"), make_episode("stop", outcome="abort")]
    labels = compute_labels(eps, _values, _rewards("transfer_cube"), LabelConfig())
    assert "stop" not in labels.indicator and labels.info["aborted_left_out"] == 1
    no_outcome = SimpleNamespace(**{**vars(make_episode("nolabel")), "outcome": None})
    with pytest.raises(LabelError, match="episode nolabel: outcome None"):
        compute_labels([no_outcome], _values, _rewards("transfer_cube"), LabelConfig())
    with pytest.raises(LabelError, match="no episodes to label"):
        compute_labels([], _values, _rewards("transfer_cube"), LabelConfig())


def test_nan_values_are_an_error_naming_the_episode():
    with pytest.raises(LabelError, match="episode ok: value function"):
        compute_labels([make_episode("ok")], lambda ep: np.full(len(ep.timestamps), np.nan),
                       _rewards("transfer_cube"), LabelConfig())


def test_labels_round_trip(tmp_path):
    eps = [make_episode("a0"), make_episode("a1", outcome="failure", seed=1)]
    labels = compute_labels(eps, _values, _rewards("transfer_cube"), LabelConfig(stage="pretrain"))
    labels.save(tmp_path)
    back = Labels.load(tmp_path)
    assert back.thresholds == labels.thresholds and back.info["stage"] == "pretrain"
    assert back.indicator["a1"].dtype == bool
    assert np.array_equal(back.indicator["a1"], labels.indicator["a1"])
    assert np.allclose(back.advantage["a0"], labels.advantage["a0"])


def test_reward_config_from_episodes_uses_time_limit_and_defaults_c_fail():
    ep = make_episode("x", steps=12)
    cfg = RewardConfig.from_episodes([ep, make_episode("y", steps=20)])
    assert cfg.tasks["transfer_cube"] == TaskReward(20, 20.0)
    limited = SimpleNamespace(**{**vars(ep), "metadata": {"max_episode_length": 400}})
    cfg = RewardConfig.from_episodes([limited], c_fail={"transfer_cube": 300})
    assert cfg.tasks["transfer_cube"] == TaskReward(400, 300.0)
