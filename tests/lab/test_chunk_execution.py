"""What evaluation and rollouts execute: the first `execute_steps` rows of each chunk, then a chunk
from the new observation. Checked action by action (bitwise) against the stub policy's chunks."""

from __future__ import annotations

import numpy as np
import pytest

import recap_sim.env
from recap_lab.evaluation import EvaluationConfig, evaluate_policy
from recap_lab.rollouts import RolloutConfig, collect_rollouts
from recap_sim.operator_policy import TakeoverRule
from recap_trainer.dataset import RecapDataset

HORIZON, EXECUTE = 10, 4


class Drift:
    """Chunks that move every joint a little further each row, from the observed pose: each query's
    chunk is different, so a row executed from the wrong chunk or at the wrong index shows."""

    metadata = {"horizon": HORIZON, "cameras": [], "policy_id": "drift", "uses_images": False}

    def __init__(self, per_query_offset: float = 1e-4) -> None:
        self.per_query_offset = per_query_offset  # 0: a chunk depends on the observation only
        self.queries: list[tuple[np.ndarray, np.ndarray]] = []  # (observed qpos, returned chunk)

    def infer(self, obs, advantage="positive", guidance_scale=1.0, frozen_prefix=None):
        qpos = np.array(obs["qpos"], dtype=np.float64)
        rows = np.arange(1, HORIZON + 1)[:, None] * np.linspace(-1.0, 1.0, 14)[None, :]
        chunk = qpos[None, :] + 0.003 * rows + self.per_query_offset * len(self.queries)
        self.queries.append((qpos, chunk))
        return chunk


@pytest.fixture
def commanded(monkeypatch):
    """Every action handed to a SimEnv's step, per episode seed."""
    actions: dict[int, list[np.ndarray]] = {}

    class RecordingEnv(recap_sim.env.SimEnv):
        def reset(self, seed=None, **kw):
            self._recorded = actions.setdefault(seed, [])
            return super().reset(seed=seed, **kw)

        def step(self, action):
            self._recorded.append(np.array(action, dtype=np.float64))
            return super().step(action)

    monkeypatch.setattr(recap_sim.env, "SimEnv", RecordingEnv)
    return actions


def expected_commands(queries: list[tuple[np.ndarray, np.ndarray]], steps: int, policy_drives=None) -> np.ndarray:
    """Rows the policy's chunks command over `steps` steps: rows 0..EXECUTE-1 of each chunk in query
    order; a step where the policy does not drive (policy_drives[t] False) ends its chunk and
    commands NaN here."""
    out, queried, used, chunk = [], iter(queries), 0, None
    for t in range(steps):
        if policy_drives is not None and not policy_drives[t]:
            out.append(np.full(14, np.nan))
            chunk = None
            continue
        if chunk is None or used >= EXECUTE:
            chunk, used = next(queried)[1], 0
        out.append(chunk[used])
        used += 1
    return np.array(out)


def test_evaluation_executes_the_first_rows_of_each_chunk(commanded):
    policy = Drift()
    config = EvaluationConfig(task="transfer_cube", episodes=2, seed=5, execute_steps=EXECUTE, parallel_envs=1,
                              time_limit_s=0.5)
    report = evaluate_policy(policy, config, progress=False)
    assert [r.steps for r in report.results] == [25, 25]
    first, second = (np.array(commanded[seed]) for seed in (5, 6))
    queries_per_episode = -(-25 // EXECUTE)  # 7: a chunk at steps 0, 4, ..., 24
    assert len(policy.queries) == 2 * queries_per_episode
    np.testing.assert_array_equal(first, expected_commands(policy.queries[:queries_per_episode], 25))
    np.testing.assert_array_equal(second, expected_commands(policy.queries[queries_per_episode:], 25))


def test_episodes_in_lockstep_execute_what_they_execute_alone(commanded):
    def run(parallel_envs: int) -> dict[int, np.ndarray]:
        commanded.clear()
        evaluate_policy(Drift(per_query_offset=0.0), EvaluationConfig(
            task="transfer_cube", episodes=3, seed=5, execute_steps=EXECUTE, parallel_envs=parallel_envs,
            time_limit_s=0.3), progress=False)
        return {seed: np.array(actions) for seed, actions in commanded.items()}

    alone, lockstep = run(1), run(3)
    assert sorted(alone) == sorted(lockstep) == [5, 6, 7]
    for seed in alone:
        np.testing.assert_array_equal(lockstep[seed], alone[seed])


def test_rollouts_execute_the_first_rows_of_each_chunk_and_query_afresh_after_a_correction(tmp_path):
    rule = TakeoverRule(stage_time_limit_s=0.3, min_correction_s=0.3, max_correction_s=0.4,
                        max_takeovers_per_episode=2)
    config = RolloutConfig(task="transfer_cube", episodes=1, iteration=1, seed=3, execute_steps=EXECUTE,
                           takeover=rule, time_limit_s=2.0)
    policy = Drift()
    collect_rollouts(policy, tmp_path, config, progress=False)
    episode = RecapDataset(tmp_path)[0]
    human = episode.intervention
    assert human.any() and not human.all() and episode.metadata["takeovers"] == 2
    # after the first correction the policy drives again (a fresh chunk, not the rest of the old one)
    back = int(np.argmax(human)) + int(np.argmin(human[int(np.argmax(human)):]))
    assert not human[back] and human[back - 1]
    expected = expected_commands(policy.queries, len(human), policy_drives=~human)
    proposed = episode.proposed_action
    np.testing.assert_array_equal(proposed, expected.astype(proposed.dtype))
    np.testing.assert_array_equal(episode.executed_action[~human], expected[~human].astype(proposed.dtype))
    # every query was made from the observation of the step its first row was executed at
    starts = [t for t in range(len(human)) if not human[t] and (t == 0 or human[t - 1] or
                                                                 (t - _segment_start(human, t)) % EXECUTE == 0)]
    assert len(starts) == len(policy.queries)
    for t, (qpos, _) in zip(starts, policy.queries):
        np.testing.assert_array_equal(episode.qpos[t], qpos.astype(episode.qpos.dtype))


def _segment_start(human: np.ndarray, t: int) -> int:
    """First step of the stretch of policy steps that contains step t."""
    while t > 0 and not human[t - 1]:
        t -= 1
    return t
