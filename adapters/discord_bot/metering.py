"""Failed Discord REST calls, counted by route (``POST /channels/{channel_id}/messages``).

discord.py sends every REST call through ``HTTPClient.request`` with a :class:`discord.http.Route`
whose ``path`` is the unformatted template, so the label set stays small whatever the ids.
"""

from __future__ import annotations

from typing import Any

import discord

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
