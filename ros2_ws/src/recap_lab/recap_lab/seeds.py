"""Where each kind of episode takes its seeds. Episode i of a run uses base + i; the bases are far
apart so that no two kinds share a scene (a policy is never measured on the scenes it learnt from)."""

DEMONSTRATION_SEED = 0  # scripted-expert demonstrations (`recap-lab generate demos`, the loop's D_demo)
# The loop's deployments through the ROS graph: iteration k uses DEPLOYMENT_SEED + 1000 k ..
DEPLOYMENT_SEED = 100_000
ROLLOUT_SEED = 500_000  # in-process rollouts with simulated corrections (`recap-lab generate rollouts`)
EVALUATION_SEED = 1_000_000  # every evaluation, so that policies are compared on the same episodes
# Settings chosen by looking at results (the SFT reference's sampling noise) are chosen on these
# episodes, never on the evaluation's.
VALIDATION_SEED = 2_000_000
# Independent runs of the loop (`recap-lab loop --seed N`): run N draws its demonstrations and
# deployments from a block of its own, N * RUN_SEED_STRIDE + the bases above, so no two runs share
# a scene; every run is evaluated and validated on the same shared episodes.
RUN_SEED_STRIDE = 10_000_000
MAX_RUN_SEED = 99


def run_seed_base(run_seed: int) -> int:
    """First seed of run `run_seed`'s block (run 0: the bases above, as single runs always used)."""
    if not 0 <= run_seed <= MAX_RUN_SEED:
        raise ValueError(f"the run's seed must be in 0..{MAX_RUN_SEED}, got {run_seed}")
    return run_seed * RUN_SEED_STRIDE
