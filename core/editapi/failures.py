"""Turning an edit-API error answer into the matching :mod:`core.errors` exception.

Bodies come as OpenAI's ``{"error": {"message", "type", "param", "code"}}``, as relays'
``{"error": "text"}`` / ``{"message": ...}`` / ``{"detail": ...}``, or as plain text or HTML.

Order of checks (first match wins):

1. 401 -> AuthenticationFailed.
2. a safety refusal (``moderation_blocked`` / ``content_policy_violation`` in code, type or
   message) -> ContentRefused, whatever the status: relays wrap refusals in 400, 403, 422, 500.
3. the balance is used up (OpenAI's 429 ``insufficient_quota``, one-api/new-api's 403
   ``insufficient_user_quota``, or their Chinese wording) -> BalanceExhausted: no retry helps,
   only the owners can.
4. 429 -> RateLimited.
5. a relay with no channel for the model (503 ``无可用渠道`` / "no available channel"), or 404
   ``model_not_found`` (how OpenAI answers a retired model) -> ModelUnavailable.
6. another 404 (unless it is "Invalid URL", i.e. a wrong base URL) or an unknown-model
   code/message -> ModelNotFound.
7. an error object in a 2xx body -> RelayError; 403 -> PermissionDenied; 408 -> APITimeout;
   other 4xx -> InvalidRequest; 5xx -> ServerError.

Messages are shortened and scrubbed of anything that looks like a key before they go into an
exception, because exception text ends up in logs and in front of users.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from core.errors import (
    APITimeout,
    AuthenticationFailed,
    BadResponse,
    BalanceExhausted,
    ContentRefused,
    EditAPIError,
    InvalidRequest,
    ModelNotFound,
    ModelUnavailable,
    PermissionDenied,
    RateLimited,
    RelayError,
    ServerError,
)

MAX_REASON_CHARS = 200
_REFUSAL = ("moderation_blocked", "content_policy_violation", "content_filter", "safety_violation")
_UNKNOWN_MODEL = re.compile(
    r"model_not_found|invalid model|unknown model|does not exist"
    r"|model\b[^.]{0,80}\bnot found",
    re.IGNORECASE,
)
_NO_CHANNEL = re.compile(r"无可用渠道|no available channel|no channel available", re.IGNORECASE)
_BALANCE_CODES = ("insufficient_quota", "insufficient_user_quota", "insufficient_balance")
_BALANCE_TEXT = re.compile(r"insufficient_user_quota|余额不足|额度不足|quota is not enough", re.IGNORECASE)
_KEYLIKE = re.compile(r"\b(sk|pk|rk|key)-[A-Za-z0-9_*\-]{6,}")
_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class APIErrorInfo:
    """The parts of an error body worth reading; any may be missing."""

    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None


def parse_error_body(body: bytes) -> APIErrorInfo:
    """Read an error body of any shape; never raises."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError:
        return APIErrorInfo(message=_plain(text) or None)
    if isinstance(doc, dict):
        return error_info_from(doc)
    return APIErrorInfo(message=_plain(text) or None)


def error_info_from(doc: dict[str, Any]) -> APIErrorInfo:
    """An :class:`APIErrorInfo` from an already decoded JSON object."""
    err = doc.get("error")
    if isinstance(err, dict):
        return APIErrorInfo(
            message=_str(err.get("message")),
            type=_str(err.get("type")),
            code=_str(err.get("code")),
            param=_str(err.get("param")),
        )
    for key in ("message", "detail", "msg", "error"):
        if isinstance(doc.get(key), str):
            return APIErrorInfo(message=doc[key], code=_str(doc.get("code")), type=_str(doc.get("type")))
    return APIErrorInfo()


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _plain(text: str) -> str:
    if text.startswith("<"):
        # An HTML error page: keep its words, not its markup.
        text = _TAGS.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def shorten(text: str, secret: str | None = None, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters, with ``secret`` and key-like tokens masked."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    text = _KEYLIKE.sub(lambda m: m.group(1) + "-***", text)
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def parse_retry_after(headers: Any, now: datetime | None = None) -> float | None:
    """Seconds to wait per ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date); None if absent."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000
            if math.isfinite(value):
                return max(0.0, value)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        return max(0.0, value) if math.isfinite(value) else None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def is_refusal(info: APIErrorInfo) -> bool:
    """True when the error is the API's safety system refusing the content."""
    haystack = " ".join(filter(None, (info.code, info.type, info.message))).lower()
    return any(marker in haystack for marker in _REFUSAL)


def is_billing_limit(info: APIErrorInfo) -> bool:
    """True when the error means the account is out of credit, which no retry can fix."""
    if any(code in (info.code, info.type) for code in _BALANCE_CODES):
        return True
    return bool(info.message and _BALANCE_TEXT.search(info.message))


def is_no_channel(info: APIErrorInfo) -> bool:
    """True when a relay says it has no channel (upstream) that serves the model."""
    return bool(info.message and _NO_CHANNEL.search(info.message))


def is_unknown_model(info: APIErrorInfo) -> bool:
    """True when the error says the model name is unknown."""
    if info.param == "model" or info.code == "model_not_found":
        return True
    return bool(info.message and _UNKNOWN_MODEL.search(info.message))


def error_for(
    status: int | None,
    info: APIErrorInfo,
    *,
    model: str,
    secret: str | None,
    retry_after: float | None = None,
) -> EditAPIError:
    """The exception for an error answer; ``status`` None means an error object inside a 2xx body."""
    reason = shorten(info.message or (f"HTTP {status}" if status else "unknown error"), secret)
    code = info.code or info.type
    common: dict[str, Any] = {"status": status, "code": code, "reason": reason}
    summary = f"HTTP {status}: {reason}" if status else f"error in a 2xx body: {reason}"

    if status == 401:
        return AuthenticationFailed(summary, **common)
    if is_refusal(info):
        return ContentRefused(summary, **common)
    if is_billing_limit(info):
        return BalanceExhausted(summary, **common)
    if status == 429:
        return rate_limited(summary, retry_after, **common)
    if is_no_channel(info) or info.code == "model_not_found":
        return ModelUnavailable(summary, model=model, **common)
    if status == 404 and not (info.message and "invalid url" in info.message.lower()):
        return ModelNotFound(summary, model=model, **common)
    if is_unknown_model(info):
        return ModelNotFound(summary, model=model, **common)
    if status is None:
        return RelayError(summary, **common)
    if status == 403:
        return PermissionDenied(summary, **common)
    if status == 408:
        return APITimeout(summary, **common)
    if 400 <= status < 500:
        return InvalidRequest(summary, param=info.param, **common)
    if status >= 500:
        return ServerError(summary, **common)
    return BadResponse(summary, **common)


def rate_limited(summary: str, retry_after: float | None, **common: Any) -> RateLimited:
    """A :class:`RateLimited` (its ``details["retry_after"]`` is whole seconds for the catalog message)."""
    return RateLimited(summary, retry_after=retry_after, **common)
