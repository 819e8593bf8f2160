"""Failed Discord calls, counted by route (``POST /channels/{channel_id}/messages``), and every call
under Discord's 50 requests a second per bot token, shared by every process (issue 14).

discord.py sends REST calls through ``HTTPClient.request`` and interaction-webhook calls (every
reply after the first acknowledgement) through ``AsyncWebhookAdapter.request``; both take a
:class:`discord.http.Route` whose ``path`` is the unformatted template, so labels stay few whatever
the ids, and never hold an interaction token. The webhook adapter is process-wide in discord.py,
so it is metered for the duration of a context, like ``runner.discord_endpoints``.

discord.py has no pluggable rate limiter (only its per-process route buckets), so the REST seam
takes each bot-token call's share of the shared budget (:class:`DiscordGate`, PostgreSQL or
Redis): replies, results and errors posted to channels wait for their turn in it; progress (what
the outbox sends inside :func:`progress_calls`) is only sent when the budget has room to spare,
else skipped (:class:`BudgetShort`; the core sends the newest state next time). Interaction
endpoints (the acknowledgement, edits of the original response, follow-ups: every call of the
webhook adapter here) are not bound by the global limit, as Discord documents, so they are never
held back by it: an acknowledgement queued behind other calls would miss Discord's 3 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import discord
from discord.webhook.async_ import AsyncWebhookAdapter

from core.ratelimit import Budget, Rate, SharedBudget
from core.telemetry import Telemetry

GLOBAL_BUDGET = Budget("discord:global", Rate(per_second=50.0, burst=50.0))
"""Discord's global limit: 50 requests a second per bot token."""

_progress: ContextVar[bool] = ContextVar("discord_progress_call", default=False)


class BudgetShort(Exception):
    """A progress call was skipped: the shared budget had no room to spare for it."""


@contextlib.contextmanager
def progress_calls() -> Iterator[None]:
    """Mark the Discord calls made inside as progress (skipped first when the budget is short)."""
    token = _progress.set(True)
    try:
        yield
    finally:
        _progress.reset(token)


class DiscordGate:
    """Each Discord call's share of the budget shared by the bot's processes (none: no gate)."""

    def __init__(self, budget: SharedBudget | None) -> None:
        self._budget = budget
        self.dropped = 0

    async def before(self) -> None:
        """Wait for the call's turn; a progress call raises :class:`BudgetShort` instead of waiting."""
        if self._budget is None:
            return
        if _progress.get():
            if not await self._budget.try_take(GLOBAL_BUDGET):
                self.dropped += 1
                raise BudgetShort()
            return
        wait = await self._budget.reserve(GLOBAL_BUDGET)
        if wait > 0:
            await asyncio.sleep(wait)  # the shared budget's turn, not a guess


_NO_GATE = DiscordGate(None)


def meter_http(client: discord.Client, telemetry: Telemetry, gate: DiscordGate = _NO_GATE) -> None:
    """Report the client's failed REST calls to ``telemetry`` (errors only; the call still raises),
    each call through ``gate`` first."""
    original = client.http.request

    async def request(route: discord.http.Route, **kwargs: Any) -> Any:
        await gate.before()
        try:
            return await original(route, **kwargs)
        except discord.HTTPException:
            telemetry.platform_error("discord", f"{route.method} {route.path}")
            raise

    client.http.request = request  # type: ignore[method-assign]


@contextlib.contextmanager
def metered_webhooks(telemetry: Telemetry) -> Iterator[None]:
    """Report failed interaction-webhook calls to ``telemetry`` until the context exits (they are
    not bound by the global rate limit: no gate)."""
    original = AsyncWebhookAdapter.request

    async def request(self: AsyncWebhookAdapter, route: discord.http.Route, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, route, *args, **kwargs)
        except discord.HTTPException:
            telemetry.platform_error("discord", f"{route.method} {route.path}")
            raise

    AsyncWebhookAdapter.request = request  # type: ignore[method-assign]
    try:
        yield
    finally:
        AsyncWebhookAdapter.request = original  # type: ignore[method-assign]
