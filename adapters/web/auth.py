"""Who is asking: Telegram Mini App ``initData`` checked by its signature, and a per-user token bucket.

``initData`` is the query string Telegram hands a Mini App (also in the URL fragment as
``#tgWebAppData=...``). Telegram signs it with the bot's token: the secret key is
``HMAC_SHA256(key="WebAppData", msg=bot_token)``, and ``hash`` is ``HMAC_SHA256(key=secret,
msg=data_check_string)`` in hex, where the data-check-string is every other field as ``key=value``,
sorted by key, joined by newlines. ``auth_date`` bounds its age, so a leaked initData stops working.
The user id is taken from the signed ``user`` field, never from anything else the page sends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from core.errors import PainterDenied

INIT_DATA_MAX_AGE = timedelta(hours=1)
# Telegram's clock and ours may disagree a little; a date further ahead than this is not Telegram's.
CLOCK_SKEW = timedelta(minutes=5)
_MAX_INIT_DATA = 4096


@dataclass(frozen=True, slots=True)
class WebAppUser:
    """The Telegram user the signed initData names, and what else the page may use from it."""

    user_id: str
    language_code: str | None
    start_param: str | None


def verify_init_data(init_data: str, bot_token: str, now: datetime) -> WebAppUser:
    """The user ``init_data`` names, when Telegram signed it for this bot recently; else PainterDenied."""
    if not init_data or len(init_data) > _MAX_INIT_DATA:
        raise PainterDenied("no initData", reason="no_auth")
    try:
        fields = dict(parse_qsl(init_data, keep_blank_values=True, strict_parsing=True))
    except ValueError as exc:
        raise PainterDenied("initData does not parse", reason="forged") from exc
    received = fields.pop("hash", "")
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), received.encode()):
        raise PainterDenied("initData signature", reason="forged")
    try:
        signed_at = datetime.fromtimestamp(int(fields["auth_date"]), now.tzinfo)
        user = json.loads(fields["user"])
        user_id = str(int(user["id"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise PainterDenied("initData without user or date", reason="forged") from exc
    if now - signed_at > INIT_DATA_MAX_AGE or signed_at - now > CLOCK_SKEW:
        raise PainterDenied("initData too old", reason="expired")
    language = user.get("language_code")
    return WebAppUser(user_id, language if isinstance(language, str) else None, fields.get("start_param"))


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """``fields`` signed as Telegram would (tests and local trials play Telegram with it)."""
    from urllib.parse import urlencode

    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


class RateLimiter:
    """A token bucket per key (a user, or an address before we know the user), in memory.

    Per process is enough: it keeps one page (or one abuser) from hammering the photo fetches and
    the image checks; the platforms' own limits protect the rest.
    """

    def __init__(self, capacity: float = 20, per_second: float = 0.5, *, max_keys: int = 10_000) -> None:
        self._capacity = capacity
        self._rate = per_second
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take one token from ``key``'s bucket; False when it is empty."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._rate)
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()  # a flood of distinct keys: forget them all rather than grow
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True
