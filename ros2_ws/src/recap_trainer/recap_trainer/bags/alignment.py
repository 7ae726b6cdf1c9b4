"""Align streams sampled at their own rates onto the control grid by header stamps.

A stream is held (zero-order) between messages: at step time t_k it contributes its latest
message with stamp <= t_k, whose age t_k - stamp is compared with the stream's tolerance.
`AlignedSteps` builds one bag's grid, judges which steps are stale and why, and takes values.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.errors import BagError
from recap_trainer.bags.message_checks import Rejected


def clean_stamps(topic: str, stamps_ns: list[int], log_ns: list[int],
                 warn: Callable[[str, str], None]) -> tuple[np.ndarray, np.ndarray]:
    """Usable stamps and the order to take samples in.

    Zero header stamps (drivers that never set them) fall back to receive time for the whole
    topic; stamps going backwards are warned about and sorted. Returns (stamps (N,), order (N,)).
    """
    stamps = np.asarray(stamps_ns, dtype=np.int64)
    if len(stamps) and (stamps == 0).any():
        warn(f"{int((stamps == 0).sum())} of {len(stamps)} header stamps are zero; "
             "aligning this topic by receive time instead", topic)
        stamps = np.asarray(log_ns, dtype=np.int64)
    backwards = int((np.diff(stamps) < 0).sum()) if len(stamps) > 1 else 0
    if backwards:
        warn(f"header stamps go backwards {backwards} time(s); sorted by stamp", topic)
    order = np.argsort(stamps, kind="stable")
    return stamps[order], order


def step_grid(first_ns: int, last_ns: int, period_s: float) -> np.ndarray:
    """t_k = first + k * period for every t_k <= last: (T,) int64 ns."""
    if last_ns < first_ns:
        return np.zeros(0, np.int64)
    period = int(round(period_s * 1e9))
    return first_ns + period * np.arange((last_ns - first_ns) // period + 1, dtype=np.int64)


def hold(stamps_ns: np.ndarray, grid_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index (T,) of the latest sample at or before each step, -1 if none; age (T,) s, inf if none)."""
    idx = np.searchsorted(stamps_ns, grid_ns, side="right") - 1
    age = np.full(len(grid_ns), np.inf)
    ok = idx >= 0
    age[ok] = (grid_ns[ok] - stamps_ns[idx[ok]]) / 1e9
    return idx, age


class AlignedSteps:
    """The step grid of one bag and every usable stream held onto it.

    Grid: from the latest first stamp of the `required` streams' messages (every stream is up) to
    the earliest last stamp of the required streams that are not cameras, every control period: a
    camera that stops early makes the remaining steps stale rather than shortening the episode.
    A step is stale when an `observed` stream's latest message is older than its tolerance or is
    `Rejected` (a bad reading); stale steps are dropped or kept (flagged) per cfg.stale_policy and
    counted per reason in `stale_reasons`, camera frame gaps also per camera topic in
    `camera_drops`. Rejected messages of the other streams (commands) are skipped and counted in
    `skipped`. Raises BagError when fewer than cfg.min_valid_fraction of the steps are left, with
    the counts per reason.
    """

    def __init__(self, name: str, cfg: ConverterConfig, samples: dict, required: list[str],
                 observed: list[str], cameras: set[str], warn: Callable[[str, str | None], None]) -> None:
        self.streams: dict[str, tuple[np.ndarray, list]] = {}
        rejected: dict[str, tuple[np.ndarray, list[Rejected]]] = {}
        for topic, s in samples.items():
            stamps, order = clean_stamps(topic, s.stamps, s.log, warn)
            values = [s.values[i] for i in order]
            bad = np.array([isinstance(v, Rejected) for v in values], bool)
            self.streams[topic] = (stamps[~bad], [v for v, b in zip(values, bad) if not b])
            rejected[topic] = (stamps[bad], [v for v, b in zip(values, bad) if b])
        for topic in required:
            if len(self.streams[topic][0]) == 0:
                counts, first = _tally(rejected[topic][1], [0] * len(rejected[topic][1]))
                got = f" ({len(rejected[topic][1])} received: {_reasons_text(counts, first, steps=False)})" \
                    if counts else ""
                raise BagError(f"{name}: {topic}: no usable messages{got}")
        # the span counts rejected messages too: bad messages never shorten an episode silently
        spans = {t: np.concatenate([self.streams[t][0], rejected[t][0]]) for t in required}
        first_ns = max(int(s.min()) for s in spans.values())
        last_ns = min(int(s.max()) for t, s in spans.items() if t not in cameras)
        grid = step_grid(first_ns, last_ns, cfg.control_period)
        if len(grid) == 0:
            raise BagError(f"{name}: the required topics never overlap in time ({required})")
        stale = np.zeros(len(grid), bool)
        reasons: dict[str, int] = {}
        first_at: dict[str, tuple[int, str]] = {}
        self.camera_drops: dict[str, dict] = {}
        for topic in observed:
            tolerance = cfg.image_tolerance_s if topic in cameras else cfg.joint_tolerance_s
            mask, why, detail = _stale_steps(self.streams[topic][0], *rejected[topic], grid, tolerance,
                                             camera=topic in cameras)
            if topic in cameras and (drops := _frame_gaps(self.streams[topic][0], grid, tolerance)):
                self.camera_drops[topic] = drops
            stale |= mask
            for k in np.flatnonzero(mask):
                key = f"{topic}: {why[k]}"
                reasons[key] = reasons.get(key, 0) + 1
                first_at.setdefault(key, (int(k), detail[k]))
        self.grid_size, self.stale, self.stale_reasons = len(grid), int(stale.sum()), reasons
        valid = len(grid) - self.stale
        if valid < cfg.min_valid_fraction * len(grid):
            raise BagError(f"{name}: only {valid} of {len(grid)} steps are usable (--min-valid-fraction "
                           f"{cfg.min_valid_fraction}); stale steps: {_reasons_text(reasons, first_at)}")
        if self.stale:
            warn(f"{self.stale} of {len(grid)} steps have a stale observation stream "
                 f"({'dropped' if cfg.stale_policy == 'drop' else 'kept, flagged'}): "
                 f"{_reasons_text(reasons, first_at)}", None)
        self.skipped: dict[str, int] = {}
        for topic, (stamps, bad) in rejected.items():
            if topic in observed or not bad:
                continue
            steps = np.maximum(0, np.ceil((stamps - grid[0]) / (cfg.control_period * 1e9))).astype(int)
            counts, first = _tally(bad, steps.tolist())
            warn(f"{len(bad)} messages skipped ({_reasons_text(counts, first)})", topic)
            self.skipped.update({f"{topic}: {reason}": n for reason, n in counts.items()})
        self.keep = ~stale if cfg.stale_policy == "drop" else np.ones(len(grid), bool)
        self.times = grid[self.keep]
        self.count = len(self.times)

    def take(self, topic: str, tolerance: float | None = None, fill: Any = None) -> np.ndarray | None:
        """The held value of `topic` at every kept step, (T, ...). Steps before the first message
        (or older than `tolerance`) get `fill`; None when the topic has no messages and no fill."""
        stamps, values = self.streams.get(topic, (np.zeros(0, np.int64), []))
        if not values:
            return None
        idx, age = hold(stamps, self.times)
        missing = idx < 0
        if tolerance is not None:
            missing |= age > tolerance
        if missing.any() and fill is None:
            idx = np.maximum(idx, 0)  # before its first message a state stream holds its first value
            missing[:] = False
        return np.stack([fill if m else values[i] for i, m in zip(idx, missing)])


def _frame_gaps(stamps_ns: np.ndarray, grid: np.ndarray, tolerance: float) -> dict:
    """A camera's dropped frames on the grid: steps with no frame within `tolerance`, how many runs
    of them (gaps) and the oldest frame age among them (s, to the ms); {} when there are none."""
    _, age = hold(stamps_ns, grid)
    late = age > tolerance
    if not late.any():
        return {}
    gaps = int(late[0]) + int((late[1:] & ~late[:-1]).sum())
    finite = age[late & np.isfinite(age)]
    return {"stale_steps": int(late.sum()), "gaps": gaps,
            "longest_gap_s": round(float(finite.max()), 3) if len(finite) else None}


def _stale_steps(good_ns: np.ndarray, bad_ns: np.ndarray, bad: list[Rejected], grid: np.ndarray,
                 tolerance: float, camera: bool = False) -> tuple[np.ndarray, list[str], list[str]]:
    """Steps (T,) bool whose latest message is too old or rejected, and per step why and a detail."""
    idx, age = hold(good_ns, grid)
    too_old = age > tolerance
    gap = f"frames dropped, none within {tolerance} s" if camera else f"no message within {tolerance} s"
    why = [gap] * len(grid)
    detail = [""] * len(grid)
    rejected_now = np.zeros(len(grid), bool)
    if bad:
        bidx, bage = hold(bad_ns, grid)
        newer = (bidx >= 0) & ((idx < 0) | (bad_ns[np.maximum(bidx, 0)] >= good_ns[np.maximum(idx, 0)]))
        rejected_now = newer & (bage <= tolerance)
        for k in np.flatnonzero(rejected_now):
            why[k], detail[k] = bad[bidx[k]].reason, bad[bidx[k]].detail
    return too_old | rejected_now, why, detail


def _tally(bad: list[Rejected], steps: list[int]) -> tuple[dict[str, int], dict[str, tuple[int, str]]]:
    counts: dict[str, int] = {}
    first: dict[str, tuple[int, str]] = {}
    for rejected, step in zip(bad, steps):
        counts[rejected.reason] = counts.get(rejected.reason, 0) + 1
        first.setdefault(rejected.reason, (step, rejected.detail))
    return counts, first


def _reasons_text(counts: dict[str, int], first: dict[str, tuple[int, str]], steps: bool = True) -> str:
    """'14 <reason> (first at step 3: left_shoulder = nan), 2 <reason> (...)'."""
    parts = []
    for key, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        step, detail = first[key]
        where = f"first at step {step}" if steps else "first"
        parts.append(f"{n} {key} ({where}{': ' + detail if detail else ''})")
    return ", ".join(parts)
