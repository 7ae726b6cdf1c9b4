"""Errors and warnings that name the bag (and topic) they are about."""
from __future__ import annotations

import logging

log = logging.getLogger("recap_trainer.bags")


class BagError(ValueError):
    """A bag cannot become an episode; the message names the file (and topic)."""


def warn(bag: str, message: str, topic: str | None = None) -> str:
    text = f"{bag}: {topic}: {message}" if topic else f"{bag}: {message}"
    log.warning(text)
    return text
