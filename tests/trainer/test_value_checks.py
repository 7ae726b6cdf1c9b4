"""Value checks on constructed values: AUC, calibration, degenerate sources, the held-out split."""

import json

import numpy as np
import pytest

from recap_core.config_errors import FieldError
from recap_core.output_files import write_json_atomic
from recap_trainer.label_checks import LabelledEpisode, ValueCheckError, apply_check_mode, check_labels
from recap_trainer.labels import Labels
from recap_trainer.value_checks import (
    EpisodeValues, ValueCheckConfig, ValueCheckReport, check_values, positive_fraction_by_outcome,
    positive_fraction_by_source, roc_auc, roc_curve,
)
from recap_trainer.value_holdout import HoldoutConfig, choose_holdout

STEPS = 50  # 1 s at 50 Hz


def episode(eid, outcome, value, returns=None):
    value = np.broadcast_to(np.asarray(value, float), (STEPS,)).copy()
    if returns is None:
        returns = np.linspace(-0.2, 0.0, STEPS) if outcome == "success" else np.linspace(-0.7, -0.5, STEPS)
    return EpisodeValues(eid, outcome, value, np.asarray(returns, float), np.arange(STEPS) * 0.02)


def separating(n=5):
    """V starts equal for everyone and, from the middle on, follows the realised return: calibrated."""
    out = []
    for i in range(n):
        for outcome in ("success", "failure"):
            ep = episode(f"{outcome}-{i}", outcome, 0.0)
            value = ep.returns.copy()
            value[: STEPS // 3] = -0.45 + 0.001 * i  # undecided for the first third
            out.append(EpisodeValues(ep.episode_id, outcome, value, ep.returns, ep.timestamps))
    return out


def auc_at(report, point):
    return next(p for p in report.separation if p.point == point)


def test_auc_of_perfect_random_inverted_and_one_class_scores():
    success = np.array([True, True, False, False])
    assert roc_auc(np.array([0.9, 0.8, 0.2, 0.1]), success) == 1.0
    assert roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), success) == 0.0
    assert roc_auc(np.array([0.9, 0.1, 0.8, 0.2]), success) == 0.5  # interleaved: as good as a coin
    assert roc_auc(np.full(4, -0.3), success) == 0.5  # ties count half
    assert roc_auc(np.array([0.9, 0.8]), np.array([True, True])) is None
    fpr, tpr = roc_curve(np.array([0.9, 0.8, 0.2, 0.1]), success)
    assert fpr.tolist() == [0, 0, 0, 0.5, 1] and tpr.tolist() == [0, 0.5, 1, 1, 1]


def test_separation_by_point_of_the_episode_and_a_missing_class():
    report = check_values(separating(), "held-out")
    assert auc_at(report, "0%").auc < 0.6 and auc_at(report, "last").auc == 1.0 and auc_at(report, "50%").auc == 1.0
    assert (auc_at(report, "50%").successes, auc_at(report, "50%").failures) == (5, 5)
    assert auc_at(report, "1 s").auc is None and auc_at(report, "1 s").successes == 0  # episodes last 0.98 s
    assert report.verdict == "ok" and report.calibration.calibration_error < 0.1

    only_successes = check_values([ep for ep in separating() if ep.outcome == "success"], "held-out")
    assert auc_at(only_successes, "50%").auc is None
    assert only_successes.verdict == "ok"
    assert any("no failed episode" in note for note in only_successes.notes)


def test_a_value_function_that_cannot_separate_fails_the_verdict():
    inverted = [EpisodeValues(e.episode_id, e.outcome, -0.9 - e.value, e.returns, e.timestamps) for e in separating()]
    report = check_values(inverted, "held-out", ValueCheckConfig(max_calibration_error=10, max_failure_end_error=10))
    assert auc_at(report, "50%").auc == 0.0
    assert report.verdict == "not ok"
    assert any("AUC 0.00 < 0.6" in p and "5 successes, 5 failures" in p for p in report.problems)
    few = check_values(inverted[:4], "held-out", ValueCheckConfig(max_calibration_error=10, max_failure_end_error=10))
    assert few.verdict == "ok" and any("not judged" in n for n in few.notes)  # 2 of each: reported, not judged


def test_calibration_of_a_value_function_blind_to_failure():
    """The espresso case: V near 0 to the end of failed episodes whose return is -0.5."""
    episodes = [episode("ok-0", "success", -0.05, np.full(STEPS, -0.05)),
                episode("bad-0", "failure", -0.05, np.full(STEPS, -0.5)),
                episode("bad-1", "failure", -0.05, np.full(STEPS, -0.6))]
    report = check_values(episodes, "held-out")
    c = report.calibration
    assert len(c.bins) == 1 and c.bins[0].steps == 3 * STEPS and (c.bins[0].low, c.bins[0].high) == (-0.1, 0.0)
    assert c.bins[0].mean_return == pytest.approx((-0.05 - 0.5 - 0.6) / 3)
    assert c.calibration_error == pytest.approx(abs(-0.05 - (-0.05 - 0.5 - 0.6) / 3))
    assert c.mean_abs_error == pytest.approx((0 + 0.45 + 0.55) / 3)
    assert c.failure_end_error == pytest.approx(0.5) and c.failed_episodes == 2
    assert report.verdict == "not ok"
    assert any("miscalibrated" in p for p in report.problems)
    assert any("does not see failures coming" in p and "episode bad-1: V -0.050, return -0.600" in p
               for p in report.problems)


def test_degenerate_sources_ignore_forced_steps():
    indicator = {"d0": np.array([True, False, True, False]), "r0": np.array([False, False, True, True])}
    decided = {"d0": np.ones(4, bool), "r0": np.array([True, True, False, False])}  # r0's last two: human steps
    sources = positive_fraction_by_source(indicator, {"d0": "demo", "r0": "rollout/iter_1"}, decided)
    assert [(s.source, s.steps, s.positive_steps, s.degenerate) for s in sources] == [
        ("demo", 4, 2, False), ("rollout/iter_1", 2, 0, True)]
    report = check_values(separating(), "held-out", sources=sources)
    assert report.verdict == "not ok"
    assert report.problems == ("source rollout/iter_1: 0% of its 2 labelled steps positive (degenerate: the labels "
                               "do not tell its steps apart)",)


def _rollouts(failed: int, succeeded: int, failed_positive: int, succeeded_positive: int, steps: int = 10):
    """indicator, source, outcome and decided of `failed` + `succeeded` rollouts whose first
    `*_positive` decided steps are positive; each has two human (forced positive) steps at its end."""
    indicator, outcome = {}, {}
    for name, count, positive in (("failure", failed, failed_positive), ("success", succeeded, succeeded_positive)):
        for i in range(count):
            flags = np.arange(steps + 2) < positive
            flags[steps:] = True
            indicator[f"{name}-{i}"], outcome[f"{name}-{i}"] = flags, name
    decided = {eid: np.arange(steps + 2) < steps for eid in indicator}
    return indicator, {eid: "rollout/iter_1" for eid in indicator}, outcome, decided


def test_a_source_whose_failures_are_labelled_as_positive_as_its_successes_fails_the_checks():
    blind = positive_fraction_by_outcome(*_rollouts(failed=6, succeeded=19, failed_positive=8, succeeded_positive=4))
    assert [(g.outcome, g.episodes, g.steps, g.positive_fraction) for g in blind] == [
        ("failure", 6, 60, 0.8), ("success", 19, 190, 0.4)]  # the human steps are not counted
    report = check_values(separating(), "held-out", by_outcome=blind)
    assert report.problems == ("source rollout/iter_1: its failed episodes' labelled steps are 80% positive, its "
                               "successful episodes' 40% (6 and 19 episodes): V does not tell that source's failures "
                               "from its successes",)
    level = check_values(separating(), "held-out", by_outcome=positive_fraction_by_outcome(
        *_rollouts(failed=6, succeeded=19, failed_positive=4, succeeded_positive=4)))
    assert level.verdict == "not ok"
    seeing = check_values(separating(), "held-out", by_outcome=positive_fraction_by_outcome(
        *_rollouts(failed=6, succeeded=19, failed_positive=0, succeeded_positive=4)))
    assert seeing.verdict == "ok" and seeing.notes == ()
    few = check_values(separating(), "held-out", by_outcome=positive_fraction_by_outcome(
        *_rollouts(failed=3, succeeded=19, failed_positive=10, succeeded_positive=4)))
    assert few.verdict == "ok"
    assert few.notes == ("source rollout/iter_1: its failed episodes' labelled steps are 100% positive, its "
                         "successful episodes' 40%, not judged: 3 failed and 19 successful episodes (fewer than 5 "
                         "of one)",)
    only_failures = positive_fraction_by_outcome(*_rollouts(failed=6, succeeded=0, failed_positive=8,
                                                            succeeded_positive=0))
    assert check_values(separating(), "held-out", by_outcome=only_failures).verdict == "ok"


def labels_for(stage, episodes, indicator):
    return Labels(advantage={e.episode_id: np.zeros(STEPS, np.float32) for e in episodes}, indicator=indicator,
                  value={e.episode_id: e.value.astype(np.float32) for e in episodes},
                  returns={e.episode_id: e.returns.astype(np.float32) for e in episodes}, thresholds={"t": 0.0},
                  info={"stage": stage})


def test_checks_of_labels_score_the_held_out_episodes_and_skip_forced_sources():
    episodes = separating()
    indicator = {e.episode_id: np.arange(STEPS) % 2 == 0 for e in episodes}
    seen = {e.episode_id: LabelledEpisode("demo", np.zeros(STEPS, bool), e.timestamps) for e in episodes}
    sft = check_labels(labels_for("sft", episodes, indicator), episodes, seen, ["success-0", "failure-0", "other"])
    assert (sft.population, sft.successes, sft.failures) == ("held-out", 1, 1)
    assert sft.sources == ()  # demos are forced positive in the SFT stage: nothing to judge
    everything = check_labels(labels_for("finetune", episodes, indicator), episodes, seen, [])
    assert (everything.population, everything.successes) == ("training", 5)
    assert any("optimistic" in n for n in everything.notes)
    assert [(s.source, s.positive_fraction) for s in everything.sources] == [("demo", 0.5)]


def test_check_modes():
    bad = check_values([episode("bad-0", "failure", -0.01, np.full(STEPS, -0.5))], "held-out")
    with pytest.raises(ValueCheckError, match=r"value function runs/v failed its checks, labels not written: .*bad-0"):
        apply_check_mode(bad, "refuse", "runs/v")
    apply_check_mode(bad, "warn", "runs/v")
    apply_check_mode(bad, "off", "runs/v")
    apply_check_mode(check_values(separating(), "held-out"), "refuse", "runs/v")  # ok: nothing raised


def test_report_is_strict_json_and_round_trips(tmp_path):
    report = check_values([ep for ep in separating() if ep.outcome == "success"], "held-out",
                          sources=positive_fraction_by_source({"a": np.ones(3, bool)}, {"a": "demo"},
                                                              {"a": np.ones(3, bool)}))
    write_json_atomic(tmp_path / "value_checks.json", report.to_dict())
    text = (tmp_path / "value_checks.json").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["verdict"] == "not ok" and data["separation"][2]["auc"] is None
    assert data["sources"][0]["degenerate"] is True and data["sources"][0]["positive_fraction"] == 1.0
    assert ValueCheckReport.from_dict(data) == report


def test_config_is_checked():
    with pytest.raises(FieldError, match="auc_point must be one of"):
        ValueCheckConfig(auc_point=0.4)
    with pytest.raises(FieldError, match=r"HoldoutConfig.fraction must be in \[0, 0.5\), got 0.7"):
        HoldoutConfig(fraction=0.7)


def outcomes(n):
    return [(f"ep-{i}", "success" if i % 3 else "failure") for i in range(n)]


def test_held_out_split_is_deterministic_stable_and_keeps_both_outcomes():
    data = outcomes(40)
    first = choose_holdout(data, HoldoutConfig(fraction=0.1, seed=3))
    assert first == choose_holdout(list(reversed(data)), HoldoutConfig(fraction=0.1, seed=3))
    assert {o for eid, o in data if eid in first.episodes} == {"success", "failure"}
    assert choose_holdout(data, HoldoutConfig(fraction=0.1, seed=4)).episodes != first.episodes
    # more data (the rollouts of V^k) holds out a superset of what the demos alone held out
    more = choose_holdout(data + outcomes(200)[40:], HoldoutConfig(fraction=0.1, seed=3))
    assert set(first.episodes) <= set(more.episodes)
    assert 0.05 < len(more.episodes) / 200 < 0.2


def test_held_out_split_of_small_or_one_sided_data():
    assert choose_holdout(outcomes(9), HoldoutConfig()).episodes == ()
    assert "9 episodes, fewer than 10" in choose_holdout(outcomes(9), HoldoutConfig()).reason
    assert choose_holdout(outcomes(40), HoldoutConfig(fraction=0.0)).episodes == ()
    one_failure = [(f"s{i}", "success") for i in range(12)] + [("f0", "failure")]
    held = choose_holdout(one_failure, HoldoutConfig(fraction=0.45))
    assert "f0" not in held.episodes  # the only failure stays in training
    assert 0 < len(held.episodes) < 12  # never every success
