"""httpx's client on aiohttp's wire, for a bot that sends many requests at once (issue 11).

httpx's own transport (httpcore over h11 and anyio) is Python down to the HTTP parser, with a cancel
scope around every read and write. Under a 200-user burst the edit requests and their streamed
answers took about a quarter of the bot's CPU there; aiohttp, which the bots already run on, parses
in C and keeps its pool in a dict. :class:`AiohttpTransport` is httpx's own extension point
(:class:`httpx.AsyncBaseTransport`): the client, its requests and responses, its timeouts, streaming
and ``httpx-sse`` stay httpx's, only the bytes travel through aiohttp. (The OpenAI SDK offers the
same pairing for high concurrency.)

Invariants, those of httpx's own transport that the edit client's retry rule rests on:

- a request that never reached the server fails with :class:`httpx.ConnectError` or
  :class:`httpx.ConnectTimeout` (safe to send again); one that may have arrived fails with another
  :class:`httpx.TransportError` (:class:`httpx.ReadTimeout`, :class:`httpx.RemoteProtocolError`,
  :class:`httpx.ReadError`), and a paid edit is never sent twice on those;
- the ``pool`` timeout bounds the wait for a free connection, ``None`` meaning no bound (a queue,
  never a failure); ``connect`` the TCP connect; ``read`` each read. aiohttp has no write timeout:
  the caller bounds a request as a whole;
- bodies are in memory already: up to 1 MB they go in one write, larger ones (an image) in
  aiohttp's 64 KB pieces, the event loop free between them;
- nothing is done behind httpx's back: redirects are not followed and bodies not decompressed
  here (httpx does both, or not, itself); a body closed before its end closes its connection.
"""

from __future__ import annotations

import functools
import io
from collections.abc import AsyncIterator

import aiohttp
import httpx
from multidict import CIMultiDict

# httpx's certificate store (certifi, or SSL_CERT_FILE and friends), so TLS trusts what it did.
_SSL = httpx.create_ssl_context()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Requests through one :class:`aiohttp.ClientSession` with room for ``max_connections`` at
    once; idle connections are kept ``keepalive_expiry`` seconds (httpx's default)."""

    def __init__(self, max_connections: int, *, keepalive_expiry: float = 5.0) -> None:
        self._limit = max_connections
        self._keepalive = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the event loop it was made on.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit, limit_per_host=0, keepalive_timeout=self._keepalive, ssl=_SSL
            )
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the response's body streams from the connection until it is closed."""
        body = await request.aread()
        data = io.BytesIO(body) if len(body) > _ONE_WRITE else body or None
        # aiohttp sets Content-Length for a body it holds whole.
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.multi_items() if k.lower() != "transfer-encoding"
        )
        limits = request.extensions.get("timeout", {})
        timeout = _timeout(limits.get("connect"), limits.get("pool"), limits.get("read"))
        try:
            response = await self._opened().request(
                request.method,
                str(request.url),
                headers=headers,
                data=data,
                allow_redirects=False,
                timeout=timeout,
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _as_httpx(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        """Close the connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class _Body(httpx.AsyncByteStream):
    """An aiohttp response's body, as httpx reads it."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _as_httpx(exc, self._request) from exc

    async def aclose(self) -> None:
        # Back to the pool when read to its end; closed otherwise (aiohttp's own rule).
        self._response.release()


# aiohttp's own limit: a bytes body larger than this would hold the event loop in one write.
_ONE_WRITE = 2**20
_CUT = (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError)


def client_timeout(
    *, connect: float | None, pool: float | None, read: float | None, total: float | None = None
) -> aiohttp.ClientTimeout:
    """httpx's kinds of timeout as aiohttp's (None: no bound). aiohttp's ``connect`` bounds the wait
    for a pooled connection and a new one's connect together: their sum, unbounded when either is;
    ``sock_connect`` the TCP connect alone; ``sock_read`` each read."""
    waiting = None if pool is None or connect is None else pool + connect
    return aiohttp.ClientTimeout(total=total, connect=waiting, sock_connect=connect, sock_read=read)


@functools.lru_cache(maxsize=16)
def _timeout(connect: float | None, pool: float | None, read: float | None) -> aiohttp.ClientTimeout:
    return client_timeout(connect=connect, pool=pool, read=read)


def _as_httpx(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx error httpx's own transport raises in the same situation."""
    message = f"{type(exc).__name__}: {exc}"
    error: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = httpx.ConnectTimeout  # connecting (or waiting for a connection): nothing was sent
    elif isinstance(exc, TimeoutError):
        error = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error = httpx.ConnectError  # refused, unresolvable, TLS refused: nothing was sent
    elif isinstance(exc, aiohttp.InvalidURL):
        error = httpx.UnsupportedProtocol
    elif isinstance(
        exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError
    ):
        error = httpx.RemoteProtocolError  # no answer, a cut or malformed one: it may have arrived
    else:
        error = httpx.ReadError  # a reset mid-exchange
    return error(message, request=request)
