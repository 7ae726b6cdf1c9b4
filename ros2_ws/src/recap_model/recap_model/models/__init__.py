"""Torch models of RECAP, importable without ROS (the policy node loads them too)."""

from recap_model.models.config import ObservationConfig, PolicyConfig, ValueConfig
from recap_model.models.encoders import DROPPED, NEGATIVE, POSITIVE, indicator_id
from recap_model.models.policy_model import PolicyModel
from recap_model.models.value_model import ValueModel

__all__ = [
    "DROPPED", "NEGATIVE", "POSITIVE", "ObservationConfig", "PolicyConfig", "PolicyModel",
    "ValueConfig", "ValueModel", "indicator_id",
]
