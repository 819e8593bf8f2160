"""The one wall clock of the product: aware UTC time.

Services take a clock argument defaulting to :func:`utcnow`, so tests can pass their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""A source of the current time (aware, UTC)."""


def utcnow() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)
