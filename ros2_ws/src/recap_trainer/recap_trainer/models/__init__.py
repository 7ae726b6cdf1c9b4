"""Torch models of RECAP, importable without ROS (the policy node loads them too)."""

from recap_trainer.models.config import ObservationConfig, PolicyConfig, ValueConfig
from recap_trainer.models.encoders import DROPPED, NEGATIVE, POSITIVE, indicator_id
from recap_trainer.models.policy_model import PolicyModel
from recap_trainer.models.value_model import ValueModel

__all__ = [
    "DROPPED", "NEGATIVE", "POSITIVE", "ObservationConfig", "PolicyConfig", "PolicyModel",
    "ValueConfig", "ValueModel", "indicator_id",
]
