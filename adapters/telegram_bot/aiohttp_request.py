"""PTB's networking backend on aiohttp, for every Bot API call but ``getUpdates`` (issue 11).

PTB's default backend, ``HTTPXRequest``, is httpx: pure Python down to the HTTP parser. Under a
burst each Bot API request cost ~0.6 ms of the event loop's time, and an edit makes four (status,
file lookup, download, result); aiohttp's parser is in C and the same request costs ~0.1 ms.
aiohttp is already here (discord.py runs on it). This is PTB's own extension point
(:class:`telegram.request.BaseRequest`); the rate limiter, retries and error handling above it
are PTB's, unchanged.

Invariants, the same as ``HTTPXRequest``'s:
- the timeouts given per call win over the defaults; ``pool_timeout`` bounds the wait for a free
  connection, ``connect_timeout`` the TCP connect (aiohttp bounds the two together, by their
  sum), ``read_timeout`` each read; aiohttp has no
  write timeout, so an upload is bounded as a whole by its write timeout plus its read timeout
  (``media_write_timeout`` by default), and other requests by their reads;
- a timeout raises :class:`telegram.error.TimedOut`, any other transport failure
  :class:`telegram.error.NetworkError`; an HTTP error status is returned, for PTB to map.
"""

from __future__ import annotations

import io
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from core.http_transport import client_timeout


class AiohttpRequest(BaseRequest):
    """:class:`telegram.request.BaseRequest` on one :class:`aiohttp.ClientSession` (see the module)."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        connect_timeout: float | None = 10.0,
        read_timeout: float | None = 30.0,
        write_timeout: float | None = 60.0,
        media_write_timeout: float | None = 120.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._media_write_timeout = media_write_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (on the running loop)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; its status code and body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data and request_data.contains_files else None
        fields = request_data.json_parameters if request_data else None
        reading = _given(read_timeout, self._read_timeout)
        connecting = _given(connect_timeout, self._connect_timeout)
        writing = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        timeout = client_timeout(
            connect=connecting,
            pool=_given(pool_timeout, self._pool_timeout),
            read=reading,
            total=_sum(writing, reading) if files else None,
        )
        try:
            async with self._session.request(
                method, url, data=_body(fields, files), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err


def _given(value: ODVInput[float], default: float | None) -> float | None:
    """A per-call timeout, or the default when the call did not set one."""
    return default if isinstance(value, DefaultValue) else value


def _sum(first: float | None, second: float | None) -> float | None:
    """Two timeouts one after the other; None (no limit) if either has none."""
    return None if first is None or second is None else first + second


def _body(fields: dict[str, str] | None, files: dict[str, Any] | None) -> Any:
    """The request body as ``HTTPXRequest`` sends it: a form, or multipart when files go along."""
    if not files:
        return fields or None
    form = aiohttp.FormData(quote_fields=False)
    for name, value in (fields or {}).items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        # aiohttp streams a file object; bytes over a megabyte it refuses (a warning, an error here).
        data = io.BytesIO(content) if isinstance(content, bytes | bytearray | memoryview) else content
        form.add_field(name, data, filename=filename, content_type=mimetype)
    return form
