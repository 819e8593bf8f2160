"""The whole Telegram bot under test: real PTB Application + real core, against loopback fakes.

``tg`` starts the fake Bot API, the fake edit API and the bot (SQLite in a temp folder); the test
plays users through the fake and asserts what they see. ``tg.restart()`` stops the bot and starts a
fresh one on the same database, as a process restart would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.telegram_bot.runner import run_telegram
from bots.bootstrap import Core, open_core
from core.settings import Settings, load_settings
from tests.fakes.edit_api import FakeEditAPI
from tests.fakes.telegram_model import ChatMessage, FakeChat
from tests.fakes.telegram_server import FakeTelegram


@dataclass
class TelegramHarness:
    """The fakes, the running bot, and helpers to wait for what a user sees."""

    fake: FakeTelegram
    api: FakeEditAPI
    tmp: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    core: Core | None = None
    _stack: AsyncExitStack | None = None

    def settings(self) -> Settings:
        """Settings pointing at the fakes (plus the test's overrides)."""
        values: dict[str, Any] = {
            "api_base_url": self.api.base_url,
            "api_key": self.api.api_key,
            "database_url": f"sqlite+aiosqlite:///{self.tmp / 'bot.db'}",
            "telegram_token": self.fake.token,
            "telegram_api_url": self.fake.api_url,
            "telegram_file_url": self.fake.file_url,
            "discord_token": None,
            **self.overrides,
        }
        return load_settings(env_file=None, **values)

    async def start(self, **overrides: Any) -> TelegramHarness:
        """Start the bot (again) with the current overrides."""
        self.overrides.update(overrides)
        settings = self.settings()
        stack = AsyncExitStack()
        self.core = await stack.enter_async_context(open_core(settings))
        await stack.enter_async_context(run_telegram(settings, self.core, album_delay=0.3))
        await stack.enter_async_context(self.core.running())
        self._stack = stack
        return self

    async def stop(self) -> None:
        """Stop the bot as a graceful shutdown would."""
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def restart(self, **overrides: Any) -> None:
        """A process restart: same database, fresh everything else."""
        await self.stop()
        await self.start(**overrides)

    async def idle(self) -> None:
        """Wait until no edit is running."""
        assert self.core is not None
        await self.core.runner.wait_idle()

    async def reply(
        self, chat: FakeChat, pred: Any = None, *, after: int = 0, within: float = 20
    ) -> ChatMessage:
        """The first bot message in ``chat`` newer than ``after`` that matches ``pred``."""
        return await self.fake.wait_for_message(chat, pred or (lambda m: True), after=after, timeout=within)

    async def text(self, chat: FakeChat, contains: str, *, after: int = 0, within: float = 20) -> ChatMessage:
        """The first bot text (or caption) containing ``contains``."""
        return await self.reply(chat, lambda m: contains in (m.content or ""), after=after, within=within)

    async def photo(self, chat: FakeChat, *, after: int = 0, within: float = 30) -> ChatMessage:
        """The first photo the bot sent in ``chat`` after ``after``."""
        return await self.reply(
            chat, lambda m: m.photo is not None and not m.deleted, after=after, within=within
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
