"""Fixtures for the sim node tests."""
from __future__ import annotations

import pytest

from sim_node_helpers import SIM_MODULE, sim_args


@pytest.fixture
def sim_process(start_process):
    """Start a sim node: `sim_process(**params)` -> NodeProcess."""
    def start(**params):
        return start_process(SIM_MODULE, *sim_args(**params))
    return start
