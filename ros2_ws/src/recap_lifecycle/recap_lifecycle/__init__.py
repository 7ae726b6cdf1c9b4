"""Managed (lifecycle) nodes: `managed_node.ManagedNode`, `transitions.drive_transitions` and
`spin.spin_until_shutdown`."""
