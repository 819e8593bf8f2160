"""Painter credentials: Telegram initData signatures, grant tokens, the rate limiter, the buttons' URLs."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.telegram_bot.outbox import PainterLinks
from adapters.web.auth import RateLimiter, sign_init_data, verify_init_data
from core.errors import PainterDenied
from core.events import Origin
from core.identity import ChatRef, Community, Platform, UserKey
from core.painter import GrantKind, Signer, fingerprint
from core.refs import ImageRef

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _init_data(user_id: int = 42, *, at: datetime = NOW, token: str = TOKEN, **extra: str) -> str:
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": "Ann", "language_code": "zh-hans"}),
        "auth_date": str(int(at.timestamp())),
        **extra,
    }
    return sign_init_data(fields, token)


def test_init_data_signed_by_telegram_names_its_user() -> None:
    user = verify_init_data(_init_data(start_param="abc"), TOKEN, NOW + timedelta(minutes=59))
    assert (user.user_id, user.language_code, user.start_param) == ("42", "zh-hans", "abc")


@pytest.mark.parametrize(
    ("init_data", "reason"),
    [
        (_init_data(token="654321:another-bot"), "forged"),
        (_init_data().replace("42", "43", 1), "forged"),  # another user id, same hash
        (_init_data() + "&extra=1", "forged"),
        (_init_data().replace("hash=", "nohash="), "forged"),
        (_init_data(at=NOW - timedelta(hours=1, seconds=1)), "expired"),
        (_init_data(at=NOW + timedelta(minutes=6)), "expired"),  # from the future: not Telegram's
        (_init_data().replace("hash=", "hash=%C3%A9"), "forged"),  # non-ASCII: refused, no crash
        ("", "no_auth"),
        ("x" * 5000, "no_auth"),
    ],
    ids=["other-bot", "tampered", "added-field", "no-hash", "old", "future", "non-ascii", "empty", "huge"],
)
def test_init_data_that_does_not_hold_is_refused(init_data: str, reason: str) -> None:
    with pytest.raises(PainterDenied) as caught:
        verify_init_data(init_data, TOKEN, NOW)
    assert caught.value.details["reason"] == reason


def _origin(group: bool = False) -> Origin:
    chat = ChatRef(Platform.TELEGRAM, "-100123" if group else "42")
    community = Community(Platform.TELEGRAM, "-100123") if group else None
    return Origin(UserKey(Platform.TELEGRAM, "42"), chat, "e1", community, "zh-CN")


PHOTO = ImageRef(Platform.TELEGRAM, "AgACAgIAAxkBAAIB" + "x" * 60)


def test_links_round_trip_fit_startapp_and_cannot_be_altered() -> None:
    signer = Signer(b"secret")
    token = signer.link(_origin(group=True), PHOTO, NOW, single_use=False)
    # A Telegram startapp parameter: at most 512 characters of A-Z a-z 0-9 _ -.
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,512}", token)
    grant = signer.read(token, NOW, GrantKind.LINK)
    assert grant.user == UserKey(Platform.TELEGRAM, "42") and grant.chat.chat_id == "-100123" and grant.group
    assert grant.photo == fingerprint(PHOTO) and grant.locale == "zh-CN" and not grant.single_use
    assert grant.origin().community == Community(Platform.TELEGRAM, "-100123")
    for bad, reason in [
        (token[:-1] + ("A" if token[-1] != "A" else "B"), "forged"),
        (Signer(b"other").link(_origin(), PHOTO, NOW, single_use=False), "forged"),
        (signer.mint(replace(grant, kind=GrantKind.SESSION)), "forged"),  # a session is no link
        ("short", "forged"),
        ("é" * 40, "forged"),
    ]:
        with pytest.raises(PainterDenied) as caught:
            signer.read(bad, NOW, GrantKind.LINK)
        assert caught.value.details["reason"] == reason
    once = signer.link(_origin(), PHOTO, NOW, single_use=True)
    with pytest.raises(PainterDenied) as caught:
        signer.read(once, NOW + timedelta(minutes=10, seconds=1), GrantKind.LINK)
    assert caught.value.details["reason"] == "expired"


def test_telegram_buttons_open_the_mini_app_privately_and_a_startapp_link_in_groups() -> None:
    private = PainterLinks("https://bot.example", "editbot", private=True).button("🖌", "tok_en-1")
    assert private.web_app is not None and private.web_app.url == "https://bot.example/painter/?t=tok_en-1"
    group = PainterLinks("https://bot.example", "editbot", private=False).button("🖌", "tok_en-1")
    assert group.web_app is None and group.url == "https://t.me/editbot?startapp=tok_en-1"


def test_rate_limiter_is_a_token_bucket_per_key() -> None:
    limiter = RateLimiter(capacity=3, per_second=1)
    assert [limiter.allow("a", now=0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", now=0)  # another user is not held back
    assert not limiter.allow("a", now=0.5) and limiter.allow("a", now=1.6)
