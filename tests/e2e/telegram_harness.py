"""The whole Telegram bot under test: real PTB Application + real core, against loopback fakes.

``tg`` starts the fake Bot API, the fake edit API and the bot (SQLite in a temp folder); the test
plays users through the fake and asserts what they see. ``tg.restart()`` stops the bot and starts a
fresh one on the same database, as a process restart would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.telegram_bot.runner import run_telegram
from bots.bootstrap import Core
from bots.settings import Settings
from tests.e2e.bot_harness import BotHarness
from tests.fakes.edit_api import FakeEditAPI
from tests.fakes.telegram_model import ChatMessage, FakeChat, FakeUser
from tests.fakes.telegram_server import FakeTelegram


@dataclass
class TelegramHarness(BotHarness):
    """The fakes, the running Telegram bot, and helpers to wait for what a user sees."""

    fake: FakeTelegram

    def platform_settings(self) -> dict[str, Any]:
        """Point the bot at the fake Bot API."""
        return {
            "telegram_token": self.fake.token,
            "telegram_api_url": self.fake.api_url,
            "telegram_file_url": self.fake.file_url,
        }

    def bot(self, settings: Settings, core: Core) -> AbstractAsyncContextManager[Any]:
        """The Telegram runner; albums are collected for 0.3 s to keep tests quick."""
        return run_telegram(settings, core, album_delay=0.3)

    async def reply(
        self, chat: FakeChat, pred: Any = None, *, after: int = 0, within: float = 20
    ) -> ChatMessage:
        """The first bot message in ``chat`` newer than ``after`` that matches ``pred``."""
        return await self.fake.wait_for_message(chat, pred or (lambda m: True), after=after, timeout=within)

    async def text(self, chat: FakeChat, contains: str, *, after: int = 0, within: float = 20) -> ChatMessage:
        """The first bot text (or caption) containing ``contains``."""
        return await self.reply(chat, lambda m: contains in (m.content or ""), after=after, within=within)

    async def choose(self, chat: FakeChat, user: FakeUser, choice: str, shown: str) -> None:
        """Open /settings, press ``choice`` (callback data, e.g. ``set:n:2``) and wait until the
        menu marks ``shown`` as the user's default."""
        m = self.fake.send_text(chat, user, "/settings")
        menu = await self.text(chat, "Your defaults", after=m.message_id)
        self.fake.press_button(chat, user, menu, choice)
        await self.fake.wait_for(
            lambda: f"✓ {shown}" in self.fake.message(chat, menu.message_id).button_texts, 10
        )

    async def photo(self, chat: FakeChat, *, after: int = 0, within: float = 30) -> ChatMessage:
        """The first photo the bot sent in ``chat`` after ``after`` (a result, not a live preview)."""
        return await self.reply(
            chat,
            lambda m: m.photo is not None and not m.deleted and not (m.caption or "").startswith("🖌"),
            after=after,
            within=within,
        )


@pytest.fixture
async def tg(
    fake_telegram: FakeTelegram, edit_api: FakeEditAPI, tmp_path: Path
) -> AsyncIterator[TelegramHarness]:
    """A running Telegram bot against the fakes; stopped after the test."""
    harness = TelegramHarness(fake_telegram, edit_api, tmp_path)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
