"""Where each kind of episode takes its seeds. Episode i of a run uses base + i; the bases are far
apart so that no two kinds share a scene (a policy is never measured on the scenes it learnt from)."""

DEMONSTRATION_SEED = 0  # scripted-expert demonstrations (`recap-lab generate demos`, the loop's D_demo)
# The loop's deployments through the ROS graph: iteration k uses DEPLOYMENT_SEED + 1000 k ..
DEPLOYMENT_SEED = 100_000
ROLLOUT_SEED = 500_000  # in-process rollouts with simulated corrections (`recap-lab generate rollouts`)
EVALUATION_SEED = 1_000_000  # every evaluation, so that policies are compared on the same episodes
