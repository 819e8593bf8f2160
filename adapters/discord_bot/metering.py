"""Failed Discord calls, counted by route (``POST /channels/{channel_id}/messages``).

discord.py sends REST calls through ``HTTPClient.request`` and interaction-webhook calls (every
reply after the first acknowledgement) through ``AsyncWebhookAdapter.request``; both take a
:class:`discord.http.Route` whose ``path`` is the unformatted template, so labels stay few whatever
the ids, and never hold an interaction token. The webhook adapter is process-wide in discord.py,
so it is metered for the duration of a context, like ``runner.discord_endpoints``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import discord
from discord.webhook.async_ import AsyncWebhookAdapter

from core.telemetry import Telemetry


def meter_http(client: discord.Client, telemetry: Telemetry) -> None:
    """Report the client's failed REST calls to ``telemetry`` (errors only; the call still raises)."""
    original = client.http.request

    async def request(route: discord.http.Route, **kwargs: Any) -> Any:
        try:
            return await original(route, **kwargs)
        except discord.HTTPException:
            telemetry.platform_error("discord", f"{route.method} {route.path}")
            raise

    client.http.request = request  # type: ignore[method-assign]


@contextlib.contextmanager
def metered_webhooks(telemetry: Telemetry) -> Iterator[None]:
    """Report failed interaction-webhook calls to ``telemetry`` until the context exits."""
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
