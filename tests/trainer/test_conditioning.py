"""End to end: the indicator steers the trained policy, and guidance extrapolates (Eqs. 2-3)."""

import numpy as np

from trainer.conftest import TINY_MODEL, make_episode
from recap_trainer.labels import Labels
from recap_model.policy import load_policy
from recap_trainer.training.episodes import EpisodeCatalog
from recap_trainer.training.run import TrainConfig
from recap_trainer.training.train_policy import PolicyTrainConfig, train_policy


def test_positive_and_negative_indicators_select_the_good_and_bad_behaviour(tmp_path):
    # Identical observations, two behaviours: "good" episodes command +1 on every arm joint and open
    # grippers (1), "bad" -1 and closed grippers (0); only the indicator can tell them apart.
    episodes, indicator = [], {}
    grippers = [6, 13]
    for i in range(4):
        base = make_episode(f"e{i}", steps=40, seed=0)
        sign = 1.0 if i % 2 == 0 else -1.0
        action = np.full((40, 14), sign)
        action[:, grippers] = max(sign, 0.0)
        episodes.append(type(base)(**{**vars(base), "executed_action": action}))
        indicator[base.episode_id] = np.full(40, sign > 0)
    zeros = {k: np.zeros(40, np.float32) for k in indicator}
    labels = Labels(advantage=zeros, indicator=indicator, value=zeros, returns=zeros, thresholds={"transfer_cube": 0.0},
                    info={"stage": "test"})
    train_policy(EpisodeCatalog([episodes]), tmp_path / "pi", TrainConfig(steps=150, batch_size=32, lr=2e-3, warmup_steps=10),
                 PolicyTrainConfig("recap"), labels, model_sizes=TINY_MODEL,
                 policy_sizes={"horizon": 4, "flow_width": 64, "flow_blocks": 2, "denoising_steps": 5})
    policy = load_policy(tmp_path / "pi")
    ep = episodes[0]
    obs = [{"qpos": ep.qpos[t], "env_state": ep.env_state[t], "task": "transfer_cube"} for t in range(0, 40, 2)]
    mean = {}
    for name, advantage, beta in (("pos", "positive", 1.0), ("neg", "negative", 1.0), ("drop", "unconditioned", 1.0),
                                  ("cfg", "positive", 2.0)):
        policy.reset(seed=0)
        mean[name] = float(policy.infer_batch(obs, advantage=advantage, guidance_scale=beta).mean())
    assert mean["pos"] > 0.5 and mean["neg"] < -0.5  # conditioned on I, the model picks that behaviour
    assert mean["neg"] < mean["drop"] < mean["pos"]  # unconditioned: in between (a mixture)
    assert mean["cfg"] > mean["pos"] - 0.05  # beta > 1 pushes further towards the positive behaviour
