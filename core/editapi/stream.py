"""Reading a streamed edit: server-sent events ``image_edit.partial_image`` then ``image_edit.completed``.

The SSE framing is parsed by ``httpx-sse`` (small, maintained, and made for exactly this on top of
httpx; a hand-written parser would have to get multi-line ``data:`` fields, comments and retries
right again). This module only gives the events their meaning:

- a partial image goes to the caller's sink as it arrives (the sink must not block for long: the
  stream keeps flowing only while it returns);
- the completed event is the result, with its usage; an event of megabytes (a result in base64)
  is parsed and decoded in a worker thread, as a plain answer is, so the event loop stays free;
- an ``error`` event (e.g. output-stage moderation) is classified like any error answer;
- malformed event data, or a stream that ends without a completed event, is a failure of the call.

Timeouts are the caller's: httpx's read timeout applies between events, and the client bounds the
whole edit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from core.editapi.failures import error_for, error_info_from
from core.editapi.response import INLINE_PARSE
from core.editapi.sniff import decode_base64
from core.editapi.types import Usage
from core.errors import APIConnectionError, APITimeout, BadResponse

PARTIAL = "image_edit.partial_image"
COMPLETED = "image_edit.completed"


@dataclass(frozen=True, slots=True)
class PartialImage:
    """One preview the model sent while painting: its 0-based index and the image as it came, in
    base64 (decoded by :meth:`decode` only when it is shown: under a burst most are dropped)."""

    index: int
    encoded: str

    def decode(self) -> bytes:
        """The image's bytes; :class:`BadResponse` when they are not base64."""
        return _decoded(self.encoded)


PartialSink = Callable[[PartialImage], Awaitable[None]]
"""Where partial images go as they arrive."""


@dataclass(frozen=True, slots=True)
class StreamedResult:
    """The completed event: the final image and what the API reported with it."""

    image: bytes
    usage: Usage | None
    created: int | None
    partials: int


def is_event_stream(resp: httpx.Response) -> bool:
    """True when the answer is an event stream (a relay that ignores ``stream`` answers plain JSON)."""
    content_type: str = resp.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == "text/event-stream"


async def read_stream(
    resp: httpx.Response, sink: PartialSink, *, model: str, secret: str | None
) -> StreamedResult:
    """Consume the events of ``resp`` (an open streaming response); raise an ``EditAPIError`` on failure."""
    partials = 0
    try:
        async for sse in EventSource(resp).aiter_sse():
            data = sse.data
            if not data or data.isspace():
                continue
            large = len(data) > INLINE_PARSE
            doc = await asyncio.to_thread(_load, data) if large else _load(data)
            kind = sse.event if sse.event and sse.event != "message" else str(doc.get("type", ""))
            if kind == "error" or ("error" in doc and kind not in (PARTIAL, COMPLETED)):
                raise error_for(None, error_info_from(_error_doc(doc)), model=model, secret=secret)
            if kind == PARTIAL:
                await sink(PartialImage(int(doc.get("partial_image_index", partials)), _encoded(doc)))
                partials += 1
            elif kind == COMPLETED:
                image = await asyncio.to_thread(_image, doc) if large else _image(doc)
                return StreamedResult(image, _usage(doc.get("usage")), _int(doc.get("created_at")), partials)
    except httpx.TimeoutException as exc:
        raise APITimeout(f"the edit stream stopped sending events ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise APIConnectionError(
            f"the edit stream broke after {partials} partial image(s): {type(exc).__name__}", attempts=1
        ) from None
    except SSEError as exc:
        raise BadResponse(f"the edit stream is not valid SSE: {exc}", reason="malformed stream") from None
    raise APIConnectionError(
        f"the edit stream ended after {partials} partial image(s) without a result", attempts=1
    )


def _load(data: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except json.JSONDecodeError:
        raise BadResponse(
            "an event of the edit stream is not JSON", reason="malformed stream event"
        ) from None
    if not isinstance(doc, dict):
        raise BadResponse("an event of the edit stream is not an object", reason="malformed stream event")
    return doc


def _error_doc(doc: dict[str, Any]) -> dict[str, Any]:
    # OpenAI sends {"type": "error", "error": {...}}; some relays send the error object itself.
    return doc if isinstance(doc.get("error"), dict | str) else {"error": doc}


def _encoded(doc: dict[str, Any]) -> str:
    raw = doc.get("b64_json")
    if not isinstance(raw, str) or not raw:
        raise BadResponse("a stream event carries no image", reason="malformed stream event")
    return raw


def _decoded(encoded: str) -> bytes:
    data = decode_base64(encoded)
    if data is None:
        raise BadResponse("a stream event's image is not base64", reason="malformed stream event")
    return data


def _image(doc: dict[str, Any]) -> bytes:
    return _decoded(_encoded(doc))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    return Usage(
        _int(value.get("input_tokens")), _int(value.get("output_tokens")), _int(value.get("total_tokens"))
    )
