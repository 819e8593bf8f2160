"""The bot's rate limiter (:mod:`adapters.telegram_bot.lanes`), measured: how long each Bot API call
waited for it, and which calls failed.

Every Bot API call passes through the application's rate limiter with its method name
(``endpoint``), so this one subclass sees all of them without touching the handlers or the outbox.
"""

from __future__ import annotations

from typing import Any

from adapters.telegram_bot.lanes import LaneRateLimiter, Result
from core.telemetry import Telemetry

__all__ = ["MeteredRateLimiter", "Result"]


class MeteredRateLimiter(LaneRateLimiter):
    """:class:`LaneRateLimiter` that reports waits and failed calls to the telemetry."""

    def __init__(self, telemetry: Telemetry, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._telemetry = telemetry

    def waited(self, endpoint: str, seconds: float) -> None:
        """Report the wait for the budget."""
        self._telemetry.rate_limit_wait("telegram", seconds)

    def failed(self, endpoint: str) -> None:
        """Count the failed call by method."""
        self._telemetry.platform_error("telegram", endpoint)
