"""The painter's web API refuses whoever is not the photo's owner, and drawings it cannot use.

Forged, expired and replayed initData and links; another user's photo; oversized, wrong-size, empty
and non-PNG uploads. Plain HTTP against the running bot's server (no browser needed).
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image

from core.painter import GrantKind, Signer
from tests.e2e.painter_harness import PainterHarness
from tests.fakes.edit_api import sample_png


def _token(url: str) -> str:
    return url.split("?t=", 1)[1]


def _area_png(size: tuple[int, int], box: tuple[int, int, int, int] | None) -> bytes:
    img = Image.new("RGBA", size, (0, 0, 0, 255))
    if box is not None:
        img.paste((0, 0, 0, 0), box)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


async def _session(http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await http.post("/painter/api/session", json=body)


async def test_forged_expired_and_foreign_init_data_are_refused(painter: PainterHarness) -> None:
    ann, bob = painter.fake.user(first_name="Ann"), painter.fake.user(first_name="Bob")
    _, url = await painter.photo_with_button(painter.fake.private_chat(ann), ann, sample_png(320, 240))
    link = _token(url)
    async with httpx.AsyncClient(base_url=painter.base) as http:
        forged = painter.init_data(ann).replace("hash=", "hash=0")
        r = await _session(http, {"link": link, "initData": forged})
        assert r.status_code == 403 and r.json()["error"] == "forged"
        # initData signed with another bot's token
        other = painter.init_data(ann)
        tampered = other.replace("%22id%22%3A+" + str(ann.id), "%22id%22%3A+" + str(bob.id))
        assert (await _session(http, {"link": link, "initData": tampered})).json()["error"] == "forged"
        stale = painter.init_data(ann, age=2 * 3600)
        r = await _session(http, {"link": link, "initData": stale})
        assert r.status_code == 401 and r.json()["error"] == "expired"
        # Bob's genuine initData does not open Ann's photo.
        r = await _session(http, {"link": link, "initData": painter.init_data(bob)})
        assert r.status_code == 403 and r.json()["error"] == "not_yours"
        # A reusable (Telegram) link opens nothing without initData.
        r = await _session(http, {"link": link, "initData": None})
        assert r.status_code == 401 and r.json()["error"] == "no_auth"
        # A forged link.
        r = await _session(http, {"link": link[:-3] + "AAA", "initData": painter.init_data(ann)})
        assert r.status_code == 403 and r.json()["error"] == "forged"
        # The photo needs a session; a link is not one, nor is a made-up token.
        assert (await http.get("/painter/api/photo")).status_code == 401
        r = await http.get("/painter/api/photo", headers={"Authorization": f"Bearer {link}"})
        assert r.status_code == 403
        r = await http.get("/painter/api/photo", headers={"Authorization": "Bearer " + "A" * 60})
        assert r.status_code == 403
        # Ann herself gets in, and sees her photo.
        r = await _session(http, {"link": link, "initData": painter.init_data(ann)})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["width"], body["height"]) == (320, 240) and body["sketch"] is True
        photo = await http.get("/painter/api/photo", headers={"Authorization": f"Bearer {body['session']}"})
        assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(photo.content)).size == (320, 240)


async def test_single_use_links_expire_and_cannot_be_replayed(painter: PainterHarness) -> None:
    ann = painter.fake.user()
    chat = painter.fake.private_chat(ann)
    good = _token((await painter.photo_with_button(chat, ann, sample_png(320, 240)))[1])
    # Discord's links are single-use (nothing else vouches for the user there): mint such links for
    # this conversation with the bot's own key.
    signer = Signer(painter.settings().painter_secret())
    grant = signer.read(good, datetime.now(UTC), GrantKind.LINK)
    once = signer.mint(replace(grant, single_use=True, nonce="n-once"))
    late = signer.mint(
        replace(grant, single_use=True, nonce="n-late", expires=int(datetime.now(UTC).timestamp()) - 1)
    )
    async with httpx.AsyncClient(base_url=painter.base) as http:
        assert (await _session(http, {"link": once})).status_code == 200
        r = await _session(http, {"link": once})
        assert r.status_code == 409 and r.json()["error"] == "spent"
        r = await _session(http, {"link": late})
        assert r.status_code == 401 and r.json()["error"] == "expired"
        # A session is a session, not a link.
        session = (
            await _session(http, {"link": signer.mint(replace(grant, single_use=True, nonce="n2"))})
        ).json()
        r = await _session(http, {"link": session["session"]})
        assert r.status_code == 403 and r.json()["error"] == "forged"


async def test_uploads_that_cannot_be_a_drawing_are_refused(painter: PainterHarness) -> None:
    ann = painter.fake.user()
    chat = painter.fake.private_chat(ann)
    _, url = await painter.photo_with_button(chat, ann, sample_png(320, 240))
    async with httpx.AsyncClient(base_url=painter.base) as http:
        body = (await _session(http, {"link": _token(url), "initData": painter.init_data(ann)})).json()
        auth = {"Authorization": f"Bearer {body['session']}"}

        async def upload(data: bytes, mode: str = "area") -> httpx.Response:
            return await http.post(f"/painter/api/drawing?mode={mode}", content=data, headers=auth)

        r = await upload(_area_png((321, 240), (10, 10, 50, 50)))
        assert r.status_code == 400 and r.json()["error"] == "wrong_size"
        assert "not the size of the photo" in r.json()["message"]
        r = await upload(_area_png((320, 240), None))
        assert r.status_code == 400 and r.json()["error"] == "empty"
        r = await upload(sample_png(320, 240).replace(b"PNG", b"JPG", 1))
        assert r.status_code == 400 and r.json()["error"] == "not_png"
        r = await upload(b"\x89PNG\r\n\x1a\n" + b"\0" * (7 * 1024 * 1024))
        assert r.status_code == 413
        # A good one goes through once; the same session cannot send a second.
        assert (await upload(_area_png((320, 240), (100, 60, 200, 160)))).status_code == 200
        r = await upload(_area_png((320, 240), (100, 60, 200, 160)))
        assert r.status_code == 409 and r.json()["error"] == "spent"
    preview = await painter.photo(chat)
    assert preview.caption is not None and "Now tell me what to change there" in preview.caption
    # The conversation moved on to the prompt; the old link still opens (to draw again) for Ann only.
    sent = painter.fake.send_text(chat, ann, "make it blue")
    await painter.photo(chat, after=sent.message_id)
    await painter.idle()
    (request,) = painter.api.requests
    assert request.mask is not None
    alpha = Image.open(io.BytesIO(request.mask.data)).convert("RGBA").getchannel("A")
    sx, sy = request.mask.width / 320, request.mask.height / 240
    assert (
        alpha.getpixel((int(150 * sx), int(110 * sy))) == 0
        and alpha.getpixel((int(20 * sx), int(20 * sy))) == 255
    )
    # After the edit no photo waits: the link opens nothing any more.
    async with httpx.AsyncClient(base_url=painter.base) as http:
        r = await _session(http, {"link": _token(url), "initData": painter.init_data(ann)})
        assert r.status_code == 410 and r.json()["error"] == "photo_gone"


async def test_another_users_photo_is_unreachable_and_requests_are_rate_limited(
    painter: PainterHarness,
) -> None:
    ann, bob = painter.fake.user(), painter.fake.user()
    _, ann_url = await painter.photo_with_button(painter.fake.private_chat(ann), ann, sample_png(320, 240))
    _, bob_url = await painter.photo_with_button(
        painter.fake.private_chat(bob), bob, sample_png(200, 100, seed=3)
    )
    async with httpx.AsyncClient(base_url=painter.base) as http:
        bob_session = (
            await _session(http, {"link": _token(bob_url), "initData": painter.init_data(bob)})
        ).json()
        assert (bob_session["width"], bob_session["height"]) == (200, 100)
        r = await _session(http, {"link": _token(ann_url), "initData": painter.init_data(bob)})
        assert r.status_code == 403
        auth = {"Authorization": f"Bearer {bob_session['session']}"}
        statuses = [(await http.get("/painter/api/photo", headers=auth)).status_code for _ in range(25)]
        assert statuses[0] == 200 and statuses[-1] == 429
