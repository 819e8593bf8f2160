"""The painter under test: the Telegram bot with EDITBOT_WEB_URL set and its web server on loopback,
Telegram's part of opening a Mini App (signed initData in the URL fragment), and a headless Chromium.

The browser is Debian's ``chromium`` driven by Playwright (``playwright install`` is never run: no
browser downloads). ``.ci/run`` installs the package; where the binary is absent the browser tests
are skipped with a reason naming it, never silently.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest

from adapters.web.auth import sign_init_data
from bots.bootstrap import Core
from bots.settings import Settings
from bots.web import serving_web
from tests.e2e.bot_harness import BotHarness
from tests.e2e.discord_harness import DiscordHarness
from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI
from tests.fakes.telegram_model import ChatMessage, FakeChat, FakeUser
from tests.fakes.telegram_server import FakeTelegram

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)"
)

LIGHT = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#999999",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#efeff3",
}
DARK = {
    "bg_color": "#212121",
    "text_color": "#ffffff",
    "hint_color": "#aaaaaa",
    "button_color": "#8774e1",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#181818",
    "section_bg_color": "#0f0f0f",
}


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WithPainter(BotHarness):
    """A bot harness plus the painter's web server on ``web_port``, as ``editbot run`` starts them."""

    web_port: int = 0

    def platform_settings(self) -> dict[str, Any]:
        """The fake platform, and the painter on loopback (plain HTTP is fine for a test browser)."""
        return {
            **super().platform_settings(),
            "web_url": self.base,
            "web_listen": "127.0.0.1",
            "web_port": self.web_port,
        }

    def bot(self, settings: Settings, core: Core) -> AbstractAsyncContextManager[Any]:
        """The web server, then the platform's bot."""
        platform = super().bot(settings, core)

        @asynccontextmanager
        async def both() -> AsyncIterator[Any]:
            async with AsyncExitStack() as stack:
                await stack.enter_async_context(serving_web(core, settings))
                yield await stack.enter_async_context(platform)

        return both()

    @property
    def base(self) -> str:
        """The painter's base URL."""
        return f"http://127.0.0.1:{self.web_port}"


Painting = TypeVar("Painting", bound=WithPainter)


@dataclass
class PainterHarness(WithPainter, TelegramHarness):
    """The Telegram harness with the painter on."""

    def init_data(self, user: FakeUser, *, age: float = 0, **extra: str) -> str:
        """initData as Telegram signs it for this bot when ``user`` opens the Mini App."""
        fields = {
            "query_id": "AAH-test",
            "user": json.dumps({"id": user.id, "first_name": user.first_name, "language_code": "en"}),
            "auth_date": str(int(time.time() - age)),
            **extra,
        }
        return sign_init_data(fields, self.fake.token)

    def mini_app_url(self, button_url: str, user: FakeUser, theme: dict[str, str] | None = None) -> str:
        """What a Telegram client opens for a web_app button: the URL plus initData in the fragment."""
        fragment = (
            f"tgWebAppData={quote(self.init_data(user))}&tgWebAppVersion=8.0&tgWebAppPlatform=android"
            f"&tgWebAppThemeParams={quote(json.dumps(theme or LIGHT))}"
        )
        return f"{button_url}#{fragment}"

    async def photo_with_button(
        self, chat: FakeChat, user: FakeUser, photo: bytes
    ) -> tuple[ChatMessage, str]:
        """Send ``photo``; the "Got your photo" reply and its "Draw on it" button's web_app URL."""
        sent = self.fake.send_photo(chat, user, photo)
        reply = await self.text(chat, "Got your photo", after=sent.message_id)
        markup = reply.reply_markup or {}
        (button,) = [b for row in markup.get("inline_keyboard", []) for b in row]
        assert button["text"] == "🖌 Draw on it"
        return reply, str(button["web_app"]["url"] if "web_app" in button else button["url"])


@asynccontextmanager
async def _running(harness: Painting) -> AsyncIterator[Painting]:
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
async def painter(
    fake_telegram: FakeTelegram, edit_api: FakeEditAPI, tmp_path: Path
) -> AsyncIterator[PainterHarness]:
    """A running Telegram bot with the painter on; stopped after the test."""
    harness = PainterHarness(fake_telegram, edit_api, tmp_path, web_port=free_port())
    async with _running(harness):
        yield harness


@dataclass
class DiscordPainterHarness(WithPainter, DiscordHarness):
    """The Discord harness with the painter on."""


@pytest.fixture
async def dc_painter(
    fake_discord: FakeDiscord, edit_api: FakeEditAPI, tmp_path: Path
) -> AsyncIterator[DiscordPainterHarness]:
    """A running Discord bot with the painter on; stopped after the test."""
    harness = DiscordPainterHarness(fake_discord, edit_api, tmp_path, web_port=free_port())
    async with _running(harness):
        yield harness
