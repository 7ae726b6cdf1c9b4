"""Does the value function tell success from failure? Checks to run before its labels are used.

The indicator I_t = 1[R_t - V(o_t) > eps] is only as good as V: a V that rates a failed episode
near 0 until its end makes the labels noise. On episodes V did not train on (value_holdout.py):
  separation   ROC AUC of V(o_t) for success vs failure at points of the episode (0 %, 25 %, 50 %,
               75 %, the last step) and at fixed times since its start;
  calibration  mean V against mean realised return R_t in bins of V (a reliability table), their
               step-weighted gap, the mean |V - R_t| over all steps and at failed episodes' last steps;
and, once labels exist, the positive fraction of each data source (demo, rollout/iter_k) among the
steps the threshold decided: 0 % or 100 % means the labels do not tell that source's steps apart,
and a source whose failed episodes are labelled positive at least as often as its successful ones
means V does not tell its failures from its successes (the held-out episodes are mostly
demonstrations; this is where a V blind to the policy's own failures shows).
Values and returns are normalised (rewards.py): in [-1, 0].
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from recap_core.config_errors import check_field
from recap_trainer.label_breakdown import LabelGroup

CHECK_MODES = ("warn", "refuse", "off")


@dataclass(frozen=True)
class ValueCheckConfig:
    fractions: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # points of each episode (1.0 = last step)
    times_s: tuple[float, ...] = (1.0, 5.0, 10.0)  # seconds since the start (longer episodes only)
    auc_point: float = 0.5  # the fraction whose AUC the verdict checks: mid-episode, when V should know
    min_auc: float = 0.6
    min_class_episodes: int = 5  # fewer successes or failures: the AUC is too noisy to judge, only reported
    max_calibration_error: float = 0.1  # step-weighted |mean V - mean R_t| over the bins
    max_failure_end_error: float = 0.25  # mean |V - R_T| at failed episodes' last steps
    bins: int = 10  # equal-width bins of V on [-1, 0]

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_field(all(0.0 <= f <= 1.0 for f in self.fractions), name, "fractions", "must lie in [0, 1]",
                    self.fractions)
        check_field(self.auc_point in self.fractions, name, "auc_point", f"must be one of {self.fractions}",
                    self.auc_point)
        check_field(all(t >= 0.0 for t in self.times_s), name, "times_s", "must be >= 0", self.times_s)
        check_field(0.0 <= self.min_auc <= 1.0, name, "min_auc", "must be in [0, 1]", self.min_auc)
        check_field(self.min_class_episodes >= 1, name, "min_class_episodes", "must be >= 1", self.min_class_episodes)
        check_field(self.max_calibration_error > 0, name, "max_calibration_error", "must be > 0",
                    self.max_calibration_error)
        check_field(self.max_failure_end_error > 0, name, "max_failure_end_error", "must be > 0",
                    self.max_failure_end_error)
        check_field(self.bins >= 1, name, "bins", "must be >= 1", self.bins)


@dataclass(frozen=True)
class EpisodeValues:
    """One scored episode. Arrays are (T,)."""

    episode_id: str
    outcome: str  # "success" or "failure"
    value: np.ndarray  # V(o_t)
    returns: np.ndarray  # realised normalised return R_t
    timestamps: np.ndarray  # seconds


@dataclass(frozen=True)
class AucPoint:
    point: str  # "50%", "last", "5 s"
    auc: float | None  # None: a class is missing there
    successes: int
    failures: int


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    steps: int
    mean_value: float
    mean_return: float


@dataclass(frozen=True)
class Calibration:
    bins: tuple[ReliabilityBin, ...]  # the non-empty ones
    calibration_error: float
    mean_abs_error: float
    failure_end_error: float | None  # None without failed episodes
    failed_episodes: int


@dataclass(frozen=True)
class SourceLabels:
    source: str  # "demo", "rollout/iter_2"
    episodes: int
    steps: int  # steps whose indicator the threshold decided (forced ones are left out)
    positive_steps: int

    @property
    def positive_fraction(self) -> float:
        return self.positive_steps / self.steps if self.steps else float("nan")

    @property
    def degenerate(self) -> bool:
        return self.steps > 0 and self.positive_steps in (0, self.steps)


@dataclass(frozen=True)
class ValueCheckReport:
    population: str  # "held-out" or "training" (no episode held out: optimistic)
    successes: int
    failures: int
    separation: tuple[AucPoint, ...]
    calibration: Calibration | None  # None: no episode scored
    sources: tuple[SourceLabels, ...]  # empty before labelling
    problems: tuple[str, ...]  # why the verdict is not ok
    notes: tuple[str, ...]  # what could not be checked
    config: ValueCheckConfig = field(default_factory=ValueCheckConfig)

    @property
    def verdict(self) -> str:
        return "not ok" if self.problems else "ok"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["verdict"] = self.verdict
        for source, row in zip(self.sources, out["sources"]):
            row.update(positive_fraction=source.positive_fraction, degenerate=source.degenerate)
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> ValueCheckReport:
        calibration = data["calibration"]
        if calibration is not None:
            calibration = Calibration(**{**calibration, "bins": tuple(ReliabilityBin(**b) for b in calibration["bins"])})
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in data["config"].items()}
        return cls(
            data["population"], data["successes"], data["failures"], tuple(AucPoint(**p) for p in data["separation"]),
            calibration,
            tuple(SourceLabels(s["source"], s["episodes"], s["steps"], s["positive_steps"]) for s in data["sources"]),
            tuple(data["problems"]), tuple(data["notes"]), ValueCheckConfig(**config))

    def summary(self) -> str:
        """A few lines for the log and the terminal."""
        aucs = ", ".join(f"{p.point} {_number(p.auc, '.2f')}" for p in self.separation)
        lines = [f"value checks on {self.successes} successful and {self.failures} failed {self.population} "
                 f"episodes: {self.verdict}", f"  AUC success vs failure: {aucs}"]
        if self.calibration is not None:
            c = self.calibration
            lines.append(f"  calibration error {c.calibration_error:.3f}, mean |V - R| {c.mean_abs_error:.3f}, "
                         f"at failed episodes' last step {_number(c.failure_end_error, '.3f')}")
        if self.sources:
            lines.append("  positive fraction by source: " + ", ".join(
                f"{s.source} {_number(s.positive_fraction, '.0%')}" for s in self.sources))
        lines += [f"  problem: {p}" for p in self.problems] + [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _number(value: float | None, spec: str) -> str:
    return "undefined" if value is None or not np.isfinite(value) else format(value, spec)


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """P(score of a positive > score of a negative), ties counting half (Mann-Whitney U);
    None when either class is empty."""
    scores, positive = np.asarray(scores, float), np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    first_rank = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ranks = first_rank[inverse] + (counts[inverse] + 1) / 2.0  # average ranks, 1-based
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) as the threshold falls through the scores; both
    classes must be present."""
    scores, positive = np.asarray(scores, float), np.asarray(positive, bool)
    order = np.argsort(-scores, kind="stable")
    ends = np.append(np.flatnonzero(np.diff(scores[order])), scores.size - 1)  # last index of each distinct score
    tp, fp = np.cumsum(positive[order])[ends], np.cumsum(~positive[order])[ends]
    return np.append(0.0, fp / fp[-1]), np.append(0.0, tp / tp[-1])


def point_label(fraction: float | None = None, time_s: float | None = None) -> str:
    return f"{time_s:g} s" if time_s is not None else ("last" if fraction == 1.0 else f"{fraction:.0%}")


def step_at(episode: EpisodeValues, fraction: float | None = None, time_s: float | None = None) -> int | None:
    """The step at a fraction of the episode, or the first step `time_s` after its start (None
    when the episode is shorter)."""
    if time_s is None:
        return int(round(fraction * (len(episode.value) - 1)))
    late_enough = np.flatnonzero(episode.timestamps - episode.timestamps[0] >= time_s - 1e-9)
    return int(late_enough[0]) if late_enough.size else None


def values_at(episodes: Sequence[EpisodeValues], fraction: float | None = None,
              time_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """V at one point of each episode long enough, and whether that episode succeeded."""
    picked = [(ep.value[t], ep.outcome == "success") for ep in episodes
              if (t := step_at(ep, fraction, time_s)) is not None]
    return np.array([v for v, _ in picked], float), np.array([s for _, s in picked], bool)


def separation(episodes: Sequence[EpisodeValues], config: ValueCheckConfig) -> tuple[AucPoint, ...]:
    points = [(f, None) for f in config.fractions] + [(None, t) for t in config.times_s]
    out = []
    for fraction, time_s in points:
        scores, success = values_at(episodes, fraction, time_s)
        out.append(AucPoint(point_label(fraction, time_s), roc_auc(scores, success),
                            int(success.sum()), int((~success).sum())))
    return tuple(out)


def calibration(episodes: Sequence[EpisodeValues], bins: int) -> Calibration | None:
    if not episodes:
        return None
    value = np.concatenate([ep.value for ep in episodes]).astype(float)
    returns = np.concatenate([ep.returns for ep in episodes]).astype(float)
    edges = np.round(np.linspace(-1.0, 0.0, bins + 1), 9)  # -0.1, not -0.09999999999999998, in the JSON
    which = np.clip(np.searchsorted(edges, value, side="right") - 1, 0, bins - 1)
    table = []
    for b in range(bins):
        members = which == b
        if members.any():
            table.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), int(members.sum()),
                                        float(value[members].mean()), float(returns[members].mean())))
    gap = sum(row.steps * abs(row.mean_value - row.mean_return) for row in table) / value.size
    failed = [ep for ep in episodes if ep.outcome == "failure"]
    end_error = float(np.mean([abs(ep.value[-1] - ep.returns[-1]) for ep in failed])) if failed else None
    return Calibration(tuple(table), float(gap), float(np.abs(value - returns).mean()), end_error, len(failed))


def _decided_counts(indicator: Mapping[str, np.ndarray], group: Mapping[str, object],
                    decided: Mapping[str, np.ndarray]) -> dict:
    """group -> [episodes, decided steps, positive decided steps]."""
    counts: dict = {}
    for eid, flags in indicator.items():
        row = counts.setdefault(group[eid], [0, 0, 0])
        mask = decided[eid]
        row[0] += 1
        row[1] += int(mask.sum())
        row[2] += int(flags[mask].sum())
    return counts


def positive_fraction_by_source(indicator: Mapping[str, np.ndarray], source: Mapping[str, str],
                                decided: Mapping[str, np.ndarray]) -> tuple[SourceLabels, ...]:
    """indicator: I_t per episode; source: its group ("demo", "rollout/iter_1"); decided: (T,) bool,
    the steps the threshold labelled (not forced positive). Sorted by source."""
    counts = _decided_counts(indicator, source, decided)
    return tuple(SourceLabels(name, *counts[name]) for name in sorted(counts))


def positive_fraction_by_outcome(indicator: Mapping[str, np.ndarray], source: Mapping[str, str],
                                 outcome: Mapping[str, str], decided: Mapping[str, np.ndarray]
                                 ) -> tuple[LabelGroup, ...]:
    """As positive_fraction_by_source, each source's episodes split by outcome (the decided steps
    only, where label_breakdown counts every step)."""
    counts = _decided_counts(indicator, {eid: (source[eid], outcome[eid]) for eid in indicator}, decided)
    return tuple(LabelGroup(*key, *counts[key]) for key in sorted(counts))


def check_values(episodes: Sequence[EpisodeValues], population: str, config: ValueCheckConfig = ValueCheckConfig(),
                 sources: Sequence[SourceLabels] = (), by_outcome: Sequence[LabelGroup] = ()) -> ValueCheckReport:
    """The report and its verdict. `population` says which episodes these are ("held-out");
    `sources` and `by_outcome`: the labels' decided steps, once there are labels."""
    separated, calibrated = separation(episodes, config), calibration(episodes, config.bins)
    successes = sum(ep.outcome == "success" for ep in episodes)
    failures = len(episodes) - successes
    problems, notes = [], []
    if population != "held-out":
        notes.append(f"scored on {population} episodes (none held out): the checks are optimistic")
    judged = next(p for p in separated if p.point == point_label(config.auc_point))
    if judged.auc is None:
        notes.append(f"separation not checked: no {'failed' if judged.failures == 0 else 'successful'} episode")
    elif min(judged.successes, judged.failures) < config.min_class_episodes:
        notes.append(f"AUC at {judged.point} ({judged.auc:.2f}) not judged: {judged.successes} successes, "
                     f"{judged.failures} failures (fewer than {config.min_class_episodes} of one)")
    elif judged.auc < config.min_auc:
        problems.append(f"V does not tell success from failure at {judged.point} of the episode: AUC {judged.auc:.2f} "
                        f"< {config.min_auc} ({judged.successes} successes, {judged.failures} failures)")
    if calibrated is None:
        notes.append("calibration not checked: no episode to score")
    else:
        if calibrated.calibration_error > config.max_calibration_error:
            problems.append(f"V is miscalibrated: mean V and mean return differ by {calibrated.calibration_error:.3f} "
                            f"over its bins (limit {config.max_calibration_error})")
        if calibrated.failure_end_error is not None and calibrated.failure_end_error > config.max_failure_end_error:
            worst = max((ep for ep in episodes if ep.outcome == "failure"),
                        key=lambda ep: abs(ep.value[-1] - ep.returns[-1]))
            problems.append(f"V does not see failures coming: at the last step of {calibrated.failed_episodes} failed "
                            f"episode(s) it is off by {calibrated.failure_end_error:.3f} on average (limit "
                            f"{config.max_failure_end_error}); worst, episode {worst.episode_id}: "
                            f"V {worst.value[-1]:.3f}, return {worst.returns[-1]:.3f}")
    for source in sources:
        if source.degenerate:
            problems.append(f"source {source.source}: {source.positive_fraction:.0%} of its {source.steps} labelled "
                            "steps positive (degenerate: the labels do not tell its steps apart)")
    for failed in (g for g in by_outcome if g.outcome == "failure" and g.steps):
        succeeded = next((g for g in by_outcome if g.source == failed.source and g.outcome == "success" and g.steps),
                         None)
        if succeeded is None or failed.positive_fraction < succeeded.positive_fraction:
            continue
        finding = (f"source {failed.source}: its failed episodes' labelled steps are {failed.positive_fraction:.0%} "
                   f"positive, its successful episodes' {succeeded.positive_fraction:.0%}")
        if min(failed.episodes, succeeded.episodes) < config.min_class_episodes:
            notes.append(f"{finding}, not judged: {failed.episodes} failed and {succeeded.episodes} successful "
                         f"episodes (fewer than {config.min_class_episodes} of one)")
        else:
            problems.append(f"{finding} ({failed.episodes} and {succeeded.episodes} episodes): V does not tell "
                            "that source's failures from its successes")
    return ValueCheckReport(population, successes, failures, separated, calibrated, tuple(sources), tuple(problems),
                            tuple(notes), config)
