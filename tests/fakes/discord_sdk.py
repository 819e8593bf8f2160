"""discord.py glue for tests: point the real library at custom endpoints, and run a client against the fake.

discord.py 2.7 has no per-client setting for either URL. Every REST call (including interaction callbacks and
webhooks) builds its URL from the class attribute ``discord.http.Route.BASE``; a plain ``discord.Client``
opens its first gateway connection at the class attribute ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``
(it never calls ``GET /gateway/bot``; only ``AutoShardedClient`` does) and resumes at the
``resume_gateway_url`` READY returned. Both are process-wide, so :func:`point_discord_py` restores them when
it exits.
"""

# ASYNC109: ``timeout`` bounds how long a test waits for the client to identify; it is not a cancel scope.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, TypeVar

import yarl

with warnings.catch_warnings():
    # discord.py 2.7's voice player imports the stdlib ``audioop`` (deprecated in 3.11, removed in 3.13); the
    # warning fires once, at first import, and names nothing the project can change.
    warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

__all__ = ["discord", "point_discord_py", "preserved_discord_py_endpoints", "running_client"]

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.contextmanager
def point_discord_py(api_url: str, gateway_url: str) -> Iterator[None]:
    """Send discord.py's REST calls to ``api_url`` and gateway connections to ``gateway_url``; restore."""
    with preserved_discord_py_endpoints():
        discord.http.Route.BASE = api_url.rstrip("/")
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
        yield


@contextlib.contextmanager
def preserved_discord_py_endpoints() -> Iterator[None]:
    """Restore discord.py's REST base and default gateway on exit, whoever changed them."""
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@contextlib.asynccontextmanager
async def running_client(
    client: ClientT, fake: FakeDiscord, *, timeout: float = 10.0
) -> AsyncIterator[ClientT]:
    """Log ``client`` in against ``fake``, connect it in this event loop, and close it cleanly on exit.

    Ready means the fake has sent READY and every GUILD_CREATE on a new session, so interactions dispatched
    next reach a client that knows the guilds. (discord.py's own ``on_ready`` comes ``guild_ready_timeout``
    later.)
    """
    with point_discord_py(fake.api_url, fake.gateway_url):
        after = fake.session_count
        connect: asyncio.Task[None] | None = None
        try:
            await client.login(fake.token)
            connect = asyncio.create_task(client.connect(), name="discord.py connect")
            ready = asyncio.create_task(
                fake.wait_until_ready(timeout, after=after), name="fake gateway ready"
            )
            await asyncio.wait({connect, ready}, return_when=asyncio.FIRST_COMPLETED)
            if not ready.done():
                ready.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ready
                connect.result()  # re-raises why the client stopped
                raise RuntimeError("discord.py stopped before identifying with the fake gateway")
            ready.result()
            yield client
        finally:
            await client.close()
            if connect is not None:
                await connect
