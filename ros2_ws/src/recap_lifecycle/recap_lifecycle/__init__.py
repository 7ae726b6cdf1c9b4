"""Managed (lifecycle) nodes: `managed_node.ManagedNode` and `transitions.drive_transitions`."""
