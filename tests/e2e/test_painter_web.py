"""The painter's web side beyond credentials: groups open it through a t.me startapp link, one server
can serve the painter and the metrics, and the page's files come with a strict CSP and nothing else."""

from __future__ import annotations

import httpx

from tests.e2e.painter_harness import PainterHarness
from tests.fakes.edit_api import sample_png


async def test_in_groups_a_startapp_link_opens_the_main_mini_app_for_the_sender_only(
    painter: PainterHarness,
) -> None:
    alice, bob = painter.fake.user(first_name="Alice"), painter.fake.user(first_name="Bob")
    group = painter.fake.group("Cats", alice, bob)
    pic = painter.fake.send_photo(group, alice, sample_png(300, 200))
    m = painter.fake.reply(group, alice, pic, "/edit")
    ask = await painter.text(group, "Got your photo", after=m.message_id)
    (button,) = [b for row in (ask.reply_markup or {})["inline_keyboard"] for b in row]
    # Groups take no web_app buttons: a link to the bot's Main Mini App with the token as startapp.
    assert "web_app" not in button
    prefix = f"https://t.me/{painter.fake.bot.username}?startapp="
    assert button["url"].startswith(prefix)
    token = button["url"].removeprefix(prefix)

    async with httpx.AsyncClient(base_url=painter.base) as http:
        # Telegram hands the Mini App the start parameter inside the signed initData.
        as_alice = painter.init_data(alice, start_param=token, chat_type="supergroup", chat_instance="-1")
        opened = await http.post("/painter/api/session", json={"link": "", "initData": as_alice})
        assert opened.status_code == 200, opened.text
        assert (opened.json()["width"], opened.json()["height"]) == (300, 200)
        as_bob = painter.init_data(bob, start_param=token, chat_type="supergroup", chat_instance="-1")
        refused = await http.post("/painter/api/session", json={"link": "", "initData": as_bob})
        assert refused.status_code == 403 and refused.json()["error"] == "not_yours"


async def test_page_files_and_headers(painter: PainterHarness) -> None:
    async with httpx.AsyncClient(base_url=painter.base) as http:
        page = await http.get("/painter/")
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
        assert "set-cookie" not in {k.lower() for k in page.headers}
        weight = len(page.content)
        for name, kind in (("painter.js", "text/javascript"), ("painter.css", "text/css")):
            r = await http.get(f"/painter/static/{name}")
            assert r.status_code == 200 and r.headers["Content-Type"].startswith(kind)
            weight += len(r.content)
        print(f"painter page weight: {weight} bytes (html + js + css, uncompressed)")
        assert weight < 64 * 1024
        for bad in (
            "/painter/static/index.html",
            "/painter/static/..%2F..%2Fpainter_app.py",
            "/painter/static/x",
        ):
            assert (await http.get(bad)).status_code == 404
        assert "http" not in page.text.replace("http-equiv", "")  # no third-party files


async def test_one_server_serves_painter_and_metrics_when_their_ports_agree(painter: PainterHarness) -> None:
    await painter.restart(metrics_port=painter.web_port)
    async with httpx.AsyncClient(base_url=painter.base) as http:
        assert (await http.get("/painter/")).status_code == 200
        assert (await http.get("/healthz")).json() == {"status": "alive"}
        assert "editbot_jobs_queued" in (await http.get("/metrics")).text


def test_the_painter_cannot_take_the_webhook_port() -> None:
    import pytest

    from bots.settings import load_settings
    from bots.web import check_web_port
    from core.errors import ConfigError

    settings = load_settings(
        env_file=None,
        telegram_token="1:x",
        telegram_webhook_url="https://bot.example/hook",
        telegram_webhook_port=8443,
        web_url="https://bot.example",
        web_port=8443,
    )
    with pytest.raises(ConfigError, match="EDITBOT_WEB_PORT"):
        check_web_port(settings)
