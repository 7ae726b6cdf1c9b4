"""Training of the value function and the policy (single process or torchrun DDP)."""
