"""Reading a 2xx edit-API body, whatever flavour the relay speaks.

Flavours understood:

- images API: ``{"created", "data": [{"b64_json"} | {"url"}], "usage": {input/output/total_tokens}}``;
- chat-completion shape: ``{"choices": [{"message": {"content": str | [parts]}}], "usage":
  {prompt/completion/total_tokens}}`` whose content carries markdown images, bare URLs or
  ``data:`` URLs (see :mod:`core.editapi.links`), or ``image_url`` parts;
- a 200 carrying ``{"error": ...}`` instead of results (some relays do that) is handed back as
  an error for :mod:`core.editapi.failures` to classify.

Parsing never fetches anything: remote images come back as :class:`RemoteImage` for the client
to download, inline ones (base64, data URLs) as :class:`InlineImage` bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.editapi.links import extract_image_links
from core.editapi.sniff import decode_base64, decode_data_url
from core.editapi.types import Usage
from core.errors import BadResponse

# Bodies (and stream events) up to this size are parsed on the event loop (errors, links, small
# previews); larger ones carry images in base64, megabytes to decode: they go to a worker thread,
# or every other user's replies would wait.
INLINE_PARSE = 64 * 1024


@dataclass(frozen=True, slots=True)
class InlineImage:
    """Image bytes that came inside the body."""

    data: bytes


@dataclass(frozen=True, slots=True)
class RemoteImage:
    """An image the body points to; must be downloaded at once (such links expire)."""

    url: str


ImageSource = InlineImage | RemoteImage
"""Where one result image is."""


@dataclass(frozen=True, slots=True)
class ParsedBody:
    """What a 2xx body says: where the images are, plus usage, model and timestamp when given."""

    sources: tuple[ImageSource, ...]
    usage: Usage | None
    model: str | None
    created: int | None


@dataclass(frozen=True, slots=True)
class ErrorInBody:
    """A 2xx body that holds an error object instead of results."""

    payload: dict[str, Any]


def parse_body(body: bytes) -> ParsedBody | ErrorInBody:
    """Parse a 2xx body; raise :class:`~core.errors.BadResponse` when it holds no usable image."""
    doc = _load_json(body)
    if not isinstance(doc, dict):
        raise BadResponse("the body is not a JSON object", reason="not a JSON object")
    if doc.get("error") and not doc.get("data") and not doc.get("choices"):
        return ErrorInBody(doc)

    if isinstance(doc.get("data"), list):
        sources = _from_data(doc["data"])
    elif isinstance(doc.get("choices"), list):
        sources = _from_choices(doc["choices"])
    else:
        raise BadResponse("the body has neither data nor choices", reason="no data in the answer")
    if not sources:
        raise BadResponse("the body holds no image", reason="no image in the answer")
    created = doc.get("created")
    model = doc.get("model")
    return ParsedBody(
        sources=tuple(sources),
        usage=parse_usage(doc.get("usage")),
        model=model if isinstance(model, str) and model else None,
        created=created if _is_int(created) else None,
    )


def _load_json(body: bytes) -> Any:
    head = body.lstrip()[:1]
    if not head:
        raise BadResponse("the body is empty", reason="empty answer")
    if head == b"<":
        # A proxy or relay error page served with 200.
        raise BadResponse("the body is an HTML page", reason="an HTML page instead of JSON")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadResponse("the body is not valid JSON", reason="malformed JSON") from None


def _from_data(items: list[Any]) -> list[ImageSource]:
    sources: list[ImageSource] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        b64 = item.get("b64_json")
        url = item.get("url")
        if isinstance(b64, str) and b64:
            sources.append(_inline(decode_base64(b64)))
        elif isinstance(url, str) and url:
            sources.append(_source_for_url(url))
    return sources


def _from_choices(choices: list[Any]) -> list[ImageSource]:
    sources: list[ImageSource] = []
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            sources.extend(_source_for_url(u) for u in extract_image_links(content))
        elif isinstance(content, list):
            for part in content:
                sources.extend(_from_part(part))
        # OpenRouter-style answers list generated images beside the text.
        images = message.get("images")
        if isinstance(images, list):
            for part in images:
                sources.extend(_from_part(part))
    return _dedupe(sources)


def _from_part(part: Any) -> list[ImageSource]:
    if isinstance(part, str):
        return [_source_for_url(u) for u in extract_image_links(part)]
    if not isinstance(part, dict):
        return []
    for key in ("image_url", "url"):
        value = part.get(key)
        if isinstance(value, dict):
            value = value.get("url")
        if isinstance(value, str) and value:
            return [_source_for_url(value)]
    for key in ("b64_json", "image_base64", "data"):
        value = part.get(key)
        if isinstance(value, str) and value:
            return [_inline(decode_base64(value))]
    text = part.get("text")
    if isinstance(text, str):
        return [_source_for_url(u) for u in extract_image_links(text)]
    return []


def _source_for_url(url: str) -> ImageSource:
    url = url.strip()
    if url.startswith("data:"):
        return _inline(decode_data_url(url))
    return RemoteImage(url)


def _inline(data: bytes | None) -> InlineImage:
    if not data:
        raise BadResponse("an inline image is not valid base64", reason="broken inline image")
    return InlineImage(data)


def _dedupe(sources: list[ImageSource]) -> list[ImageSource]:
    return list(dict.fromkeys(sources))


def parse_usage(raw: Any) -> Usage | None:
    """``usage`` of either shape (images: input/output tokens; chat: prompt/completion tokens)."""
    if not isinstance(raw, dict):
        return None
    inp = _first_int(raw, "input_tokens", "prompt_tokens")
    out = _first_int(raw, "output_tokens", "completion_tokens")
    total = _first_int(raw, "total_tokens")
    if total is None and inp is not None and out is not None:
        total = inp + out
    if inp is None and out is None and total is None:
        return None
    return Usage(input_tokens=inp, output_tokens=out, total_tokens=total)


def _first_int(raw: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _is_int(value: Any) -> bool:
    # bool is an int subclass; a relay sending `true` is not reporting a count.
    return isinstance(value, int) and not isinstance(value, bool)
