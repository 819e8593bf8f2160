"""The edit-API client: validate, send one multipart POST, read every answer flavour.

Retry policy (a paid call must never run twice):

- connect errors and connect timeouts are retried — the request never reached the server;
- 429 is retried honouring ``Retry-After``; when the server asks for longer than
  ``max_retry_wait`` the client gives up at once instead of holding the user;
- everything else (5xx, read/write timeouts, dropped connections, 4xx) fails on the first try,
  because the edit may have run and been billed.

The API key travels only in the ``Authorization`` header of the edit POST. It is never logged,
never put in an exception, and never sent when downloading result links.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx

from core.catalogue import ModelCatalogue
from core.editapi import download
from core.editapi.failures import (
    APIErrorInfo,
    error_for,
    error_info_from,
    is_billing_limit,
    parse_error_body,
    parse_retry_after,
)
from core.editapi.request import build_multipart, validate
from core.editapi.response import INLINE_PARSE, ErrorInBody, InlineImage, parse_body
from core.editapi.sniff import image_format
from core.editapi.stream import PartialSink, is_event_stream, read_stream
from core.editapi.types import EditRequest, EditResult
from core.errors import APIConnectionError, APITimeout, BadResponse, ConfigError
from core.http_transport import AiohttpTransport

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_MAX_RESULT_BYTES = 50 * MiB
# Slack on top of n x max_result_bytes for base64's 4/3 growth and the JSON around it.
_BODY_SLACK = 1 * MiB


def default_backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based) when the server gave no hint."""
    return float(min(0.5 * 2 ** (attempt - 1), 8.0))


def make_http_client(timeout_s: float, concurrency: int = 4) -> httpx.AsyncClient:
    """An :class:`httpx.AsyncClient` with timeouts fit for image edits.

    ``timeout_s`` is the read timeout: how long an edit may take before the first byte of the
    answer (edits often need a minute or more). Connecting gets 10 s, uploading a chunk 60 s.
    The pool has room for ``concurrency`` edits plus their result downloads, and waiting for a
    connection has no timeout: the job runner already admits only ``concurrency`` edits at once, so
    a wait here is a queue, never a failure. Redirects are not followed implicitly: the edit POST
    must not be replayed elsewhere, and downloads follow them by hand.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=10.0, read=timeout_s, write=60.0, pool=None),
        transport=AiohttpTransport(2 * concurrency + 2),
        follow_redirects=False,
        headers={"User-Agent": "editbot"},
    )


class EditClient:
    """Client for ``POST {base_url}/images/edits`` on top of a caller-owned :class:`httpx.AsyncClient`.

    The ``http`` client must carry no credentials of its own (see :func:`make_http_client`): it
    also fetches result links, which may live on third-party storage.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        *,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        max_attempts: int = 3,
        backoff: Callable[[int], float] = default_backoff,
        max_retry_wait: float = 30.0,
        max_redirects: int = 5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        catalogue: ModelCatalogue | None = None,
        total_timeout: float | None = None,
        partial_images: int = 2,
    ) -> None:
        if not api_key:
            raise ConfigError("EDITBOT_API_KEY is empty")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._http = http
        self._url = base_url.rstrip("/") + "/images/edits"
        self._key = api_key
        self._max_result_bytes = max_result_bytes
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_retry_wait = max_retry_wait
        self._max_redirects = max_redirects
        self._sleep = sleep
        self.catalogue = catalogue or ModelCatalogue()
        self._total_timeout = total_timeout
        self._partial_images = partial_images
        self._no_stream: set[str] = set()

    def __repr__(self) -> str:
        return f"EditClient({self._url!r})"

    @property
    def url(self) -> str:
        """The endpoint edits are posted to."""
        return self._url

    def streams(self, req: EditRequest) -> bool:
        """Whether ``req`` would be streamed: the model streams, one result, and no refusal remembered."""
        spec = self.catalogue.spec(req.model)
        return spec.stream and req.n == 1 and req.model not in self._no_stream

    @property
    def refused_streaming(self) -> frozenset[str]:
        """Models this endpoint refused to stream (learnt once, then asked without ``stream``)."""
        return frozenset(self._no_stream)

    async def edit(self, req: EditRequest, on_partial: PartialSink | None = None) -> EditResult:
        """Run one edit; raise an :class:`~core.errors.InputError` or :class:`~core.errors.EditAPIError`.

        With ``on_partial``, a model that streams sends its partial images there as they arrive.
        """
        spec = self.catalogue.spec(req.model)
        validate(req, spec)
        if on_partial is not None and self.streams(req):
            try:
                return await self._edit_streamed(req, on_partial)
            except _StreamRefused as refused:
                # Refused before any image was made: nothing was charged, so the plain request is safe.
                self._remember_no_stream(req.model, refused.reason)
        resp = await self._open(req, streamed=False)
        return await self._result(req, resp.status_code, await self._read(resp, req))

    async def _edit_streamed(self, req: EditRequest, on_partial: PartialSink) -> EditResult:
        try:
            async with asyncio.timeout(self._total_timeout):
                resp = await self._open(req, streamed=True)
                try:
                    if not is_event_stream(resp):
                        # The relay ignored `stream` and answered the edit as JSON: that is the result.
                        self._remember_no_stream(req.model, "a plain JSON answer")
                        return await self._result(req, resp.status_code, await self._read(resp, req))
                    streamed = await read_stream(resp, on_partial, model=req.model, secret=self._key)
                finally:
                    await resp.aclose()
        except TimeoutError:
            raise APITimeout(f"the edit took longer than {self._total_timeout:.0f} s") from None
        image = self._checked(streamed.image)
        log.info("edit done: streamed, %d partial image(s), model %s", streamed.partials, req.model)
        return EditResult(images=(image,), model=req.model, usage=streamed.usage, created=streamed.created)

    def _remember_no_stream(self, model: str, why: str) -> None:
        if model not in self._no_stream:
            log.info(
                "%s at %s does not stream (%s): asking without stream from now on", model, self._url, why
            )
        self._no_stream.add(model)

    async def _read(self, resp: httpx.Response, req: EditRequest) -> bytes:
        """The body of an open 2xx answer, capped; the response is closed afterwards."""
        cap = self._max_result_bytes * req.n * 4 // 3 + _BODY_SLACK
        try:
            return await download.read_capped(resp, cap)
        except httpx.TimeoutException as exc:
            raise APITimeout(f"the edit API answer stalled ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise APIConnectionError(
                f"the edit API connection broke mid-answer: {type(exc).__name__}", attempts=1
            ) from None
        finally:
            await resp.aclose()

    async def _result(self, req: EditRequest, status: int, body: bytes) -> EditResult:
        parsed = await asyncio.to_thread(parse_body, body) if len(body) > INLINE_PARSE else parse_body(body)
        if isinstance(parsed, ErrorInBody):
            error = error_for(None, error_info_from(parsed.payload), model=req.model, secret=self._key)
            # The relay's own words are for the operator; users get the catalog's plain message.
            log.warning("edit API answered 2xx with an error: %s", error.details.get("reason"))
            raise error
        images: list[bytes] = []
        for source in parsed.sources:
            if isinstance(source, InlineImage):
                data = source.data
            else:
                data = await download.fetch(
                    self._http,
                    source.url,
                    max_bytes=self._max_result_bytes,
                    max_redirects=self._max_redirects,
                )
            images.append(self._checked(data))
        log.info("edit done: %d image(s), HTTP %d, model %s", len(images), status, parsed.model or req.model)
        return EditResult(
            images=tuple(images), model=parsed.model or req.model, usage=parsed.usage, created=parsed.created
        )

    def _checked(self, data: bytes) -> bytes:
        if len(data) > self._max_result_bytes:
            raise BadResponse(
                f"a result image has {len(data)} bytes (cap {self._max_result_bytes})",
                reason=f"result over {self._max_result_bytes // MiB} MB",
            )
        if image_format(data) is None:
            raise BadResponse("the API returned bytes that are not an image", reason="not an image")
        return data

    async def _open(self, req: EditRequest, *, streamed: bool) -> httpx.Response:
        """POST with the bounded retries; the open 2xx response (the caller reads and closes it)."""
        body = build_multipart(req, self.catalogue.spec(req.model))
        fields = dict(body.fields)
        if streamed:
            fields.update(stream="true", partial_images=str(self._partial_images))
        accept = "text/event-stream" if streamed else "application/json"
        headers = {"Authorization": f"Bearer {self._key}", "Accept": accept}
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request(
                "POST", self._url, data=fields, files=body.files, headers=headers
            )
            try:
                resp = await self._http.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Never reached the server: safe to try again.
                if attempt < self._max_attempts:
                    wait = self._backoff(attempt)
                    log.warning(
                        "edit API unreachable (%s), retry %d in %.1fs", type(exc).__name__, attempt, wait
                    )
                    await self._sleep(wait)
                    continue
                raise APIConnectionError(
                    f"could not connect to the edit API after {attempt} attempt(s): {type(exc).__name__}",
                    attempts=attempt,
                ) from None
            except httpx.TimeoutException as exc:
                raise APITimeout(f"the edit API did not answer in time ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                # The request may have arrived: not retried.
                raise APIConnectionError(
                    f"the connection to the edit API failed: {type(exc).__name__}", attempts=attempt
                ) from None
            if 200 <= resp.status_code < 300:
                return resp
            data = await self._read(resp, req)
            if 300 <= resp.status_code < 400:
                # A POST is never replayed elsewhere; the operator should fix the address instead.
                where = resp.headers.get("location", "?")
                raise BadResponse(
                    f"the edit API redirects (HTTP {resp.status_code}) to {where}",
                    reason="the API address redirects; set EDITBOT_API_BASE_URL to the final address",
                    status=resp.status_code,
                )
            info = parse_error_body(data)
            if streamed and resp.status_code in (400, 422) and _names_stream(info):
                raise _StreamRefused(info.message or "HTTP 400 naming stream")
            retry_after = parse_retry_after(resp.headers)
            if resp.status_code == 429 and not is_billing_limit(info):
                # With no hint from the server, the next backoff step is what the user is told.
                wait = retry_after if retry_after is not None else self._backoff(attempt)
                if attempt < self._max_attempts and wait <= self._max_retry_wait:
                    log.warning("edit API rate limit, retry %d in %.1fs", attempt, wait)
                    await self._sleep(wait)
                    continue
                raise error_for(429, info, model=req.model, secret=self._key, retry_after=wait)
            # Info, not warning: the caller reports the failure; this line is for tracing.
            log.info("edit API answered HTTP %d (%s)", resp.status_code, info.code or info.type or "-")
            raise error_for(
                resp.status_code, info, model=req.model, secret=self._key, retry_after=retry_after
            )


class _StreamRefused(Exception):
    """The endpoint refused the ``stream`` parameter (before making any image)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _names_stream(info: APIErrorInfo) -> bool:
    if info.param in ("stream", "partial_images"):
        return True
    text = (info.message or "").lower()
    return "stream" in text or "partial_images" in text
