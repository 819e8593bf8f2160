"""httpx transports for a bot that sends many requests at once.

:class:`WholeBodyTransport` sends each request body in one piece. httpx streams a multipart body as
it renders it: every field's header, data and line break is a separate write, each going through
anyio's cancel scopes and timeouts. An edit request (a dozen fields and an image) and a Telegram
upload took 50-100 writes each; under a 200-user burst that was 15% of the bot's CPU. The bodies
are in memory already (an image the bot holds as bytes), so joining them first costs one copy and
saves all but one write.

:class:`ShardedTransport` keeps a large connection pool cheap. httpcore's pool looks at each of its
connections whenever a request starts or a response closes, and, for every idle one, at all of
them again (httpcore 1.0.9, ``_assign_requests_to_connections``): its cost grows with the square
of its size. With 200 edits at once that was about a tenth of the bot's CPU, most of it when the
results came back. Several small pools, each request going to the one with the fewest requests in
flight, hold as many connections in all at a fraction of the bookkeeping; since a pool is chosen
only when it has room whenever any has, no request waits for a connection the whole would have had.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

SHARD_CONNECTIONS = 16
"""Connections per pool of a :class:`ShardedTransport` (the bookkeeping grows with its square)."""


class WholeBodyTransport(httpx.AsyncBaseTransport):
    """``inner`` (by default an :class:`httpx.AsyncHTTPTransport` made with ``kwargs``) with
    request bodies sent whole."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None, **kwargs: Any) -> None:
        self._inner = inner if inner is not None else httpx.AsyncHTTPTransport(**kwargs)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Join a streamed body, then send the request."""
        if not isinstance(request.stream, httpx.ByteStream):
            await request.aread()  # the body becomes one ByteStream
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the connections."""
        await self._inner.aclose()


class ShardedTransport(httpx.AsyncBaseTransport):
    """Room for ``max_connections`` in pools of at most ``per_shard``, keeping up to
    ``max_keepalive_connections`` (default: all) idle ones alive; each pool is made by ``make``
    from its :class:`httpx.Limits` (by default an :class:`httpx.AsyncHTTPTransport`)."""

    def __init__(
        self,
        max_connections: int,
        make: Callable[[httpx.Limits], httpx.AsyncBaseTransport] | None = None,
        *,
        max_keepalive_connections: int | None = None,
        per_shard: int = SHARD_CONNECTIONS,
    ) -> None:
        count = max(1, math.ceil(max_connections / per_shard))
        size = math.ceil(max_connections / count)
        keep = size if max_keepalive_connections is None else math.ceil(max_keepalive_connections / count)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=keep)
        self._shards = [
            make(limits) if make else httpx.AsyncHTTPTransport(limits=limits) for _ in range(count)
        ]
        self._busy = [0] * count  # requests in flight per pool, until their response is closed

    @property
    def in_flight(self) -> tuple[int, ...]:
        """Requests in flight per pool."""
        return tuple(self._busy)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the least busy pool; it counts until its response is closed."""
        shard = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[shard] += 1
        try:
            response = await self._shards[shard].handle_async_request(request)
        except BaseException:
            self._busy[shard] -= 1
            raise
        if response.is_closed:  # read whole already (a mock): it holds no connection
            self._release(shard)
        else:
            response.stream = _Released(response.stream, lambda: self._release(shard))
        return response

    def _release(self, shard: int) -> None:
        self._busy[shard] -= 1

    async def aclose(self) -> None:
        """Close every pool's connections."""
        for shard in self._shards:
            await shard.aclose()


class _Released(httpx.AsyncByteStream):
    """A response body that calls ``release`` once, when it is closed."""

    def __init__(self, inner: Any, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()
