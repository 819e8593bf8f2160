"""The bot's rate limiter (:mod:`adapters.telegram_bot.lanes`), measured: how long each Bot API call
waited for it, and which calls failed.

Every Bot API call passes through the application's rate limiter with its method name
(``endpoint``), so this one subclass sees all of them without touching the handlers or the outbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import TelegramError

from adapters.telegram_bot.lanes import LaneRateLimiter
from core.telemetry import Telemetry

Result = bool | dict[str, Any] | list[dict[str, Any]]


class MeteredRateLimiter(LaneRateLimiter):
    """:class:`LaneRateLimiter` that reports waits and failed calls to the telemetry."""

    def __init__(self, telemetry: Telemetry, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._telemetry = telemetry

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> Result:
        asked = time.monotonic()
        in_calls = 0.0  # time spent in earlier attempts (a 429 retried) is not waiting
        waited = 0.0

        async def timed(*a: Any, **kw: Any) -> Result:
            nonlocal in_calls, waited
            started = time.monotonic()
            waited = started - asked - in_calls
            try:
                return await callback(*a, **kw)
            finally:
                in_calls += time.monotonic() - started

        try:
            return await super().process_request(timed, args, kwargs, endpoint, data, rate_limit_args)
        except TelegramError:
            self._telemetry.platform_error("telegram", endpoint)
            raise
        finally:
            self._telemetry.rate_limit_wait("telegram", max(0.0, waited))
