"""Policy backends behind one interface (see base.PolicyBackend)."""
from recap_policy.backends.base import (ADVANTAGES, BackendMetadata, Conditioning, InvalidChunk, PolicyBackend,
                                        check_chunk)

__all__ = ["ADVANTAGES", "BackendMetadata", "Conditioning", "InvalidChunk", "PolicyBackend", "check_chunk"]
