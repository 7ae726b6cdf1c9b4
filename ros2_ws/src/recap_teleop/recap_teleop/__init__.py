"""Arbitration node: policy or human command to the arms, takeover triggers, smooth handover and the safety filter."""
