"""The whole Discord bot under test: real discord.py client + real core, against loopback fakes.

``dc`` starts the fake Discord (REST, gateway, CDN), the fake edit API and the bot (SQLite in a temp
folder); the test plays users through the fake and asserts what they see. ``dc.restart()`` stops the
bot and starts a fresh client on the same database, as a process restart would. Any ERROR logged by
discord.py (which swallows exceptions in commands, views and modals), by the adapter or by the core
fails the test, unless the test expects it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bots.bootstrap import Core, open_core
from core.settings import Settings, load_settings
from tests.fakes.discord_models import FakeChannel, FakeMessage, FakeUser
from tests.fakes.discord_server import FakeDiscord, FakeInteraction
from tests.fakes.edit_api import FakeEditAPI

WATCHED_LOGGERS = ("discord", "adapters", "core", "bots")


def history(message: FakeMessage) -> list[str]:
    """Every content the message has shown, oldest first."""
    return [str(h["content"]) for h in message.history] + [message.content]


def picture(message: FakeMessage, index: int = 0) -> Image.Image:
    """An attached file of ``message`` decoded with Pillow."""
    return message.files[index].image()


def decoded(data: bytes) -> Image.Image:
    """Bytes decoded with Pillow."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@dataclass
class DiscordHarness:
    """The fakes, the running bot, and helpers to wait for what a user sees."""

    fake: FakeDiscord
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
            "telegram_token": None,
            "discord_token": self.fake.token,
            "discord_api_url": self.fake.api_url,
            "discord_gateway_url": self.fake.gateway_url,
            **self.overrides,
        }
        return load_settings(env_file=None, **values)

    async def start(self, **overrides: Any) -> DiscordHarness:
        """Start the bot (again) with the current overrides; returns once it is ready."""
        from adapters.discord_bot.runner import run_discord

        self.overrides.update(overrides)
        settings = self.settings()
        stack = AsyncExitStack()
        try:
            self.core = await stack.enter_async_context(open_core(settings))
            await stack.enter_async_context(run_discord(settings, self.core, guild_ready_timeout=0.05))
            await stack.enter_async_context(self.core.running())
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def stop(self) -> None:
        """Stop the bot as a graceful shutdown would."""
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def restart(self, **overrides: Any) -> None:
        """A process restart: same database, a new client and gateway session."""
        await self.stop()
        await self.start(**overrides)

    async def idle(self) -> None:
        """Wait until no edit is running."""
        assert self.core is not None
        await self.core.runner.wait_idle()

    def photo(
        self, data: bytes, filename: str = "photo.png", content_type: str | None = None
    ) -> dict[str, Any]:
        """An upload for a command option or a modal (on the fake CDN)."""
        return self.fake.add_attachment(data, filename, content_type)

    async def edit(self, image: dict[str, Any], prompt: str, **options: Any) -> FakeInteraction:
        """``/edit image prompt ...`` by ``user`` (default alice) in ``channel``; acknowledged."""
        user, channel, locale = (
            options.pop("user", None),
            options.pop("channel", None),
            options.pop("locale", None),
        )
        hit = await self.fake.slash_command(
            "edit", {"image": image, "prompt": prompt, **options}, user=user, channel=channel, locale=locale
        )
        return await hit.wait_for_response()

    async def result(self, hit: FakeInteraction, within: float = 20) -> FakeMessage:
        """The interaction's response once it carries the result's files."""
        return await hit.wait_for_original(lambda m: m.files and not m.deleted, timeout=within)

    async def private_reply(self, hit: FakeInteraction, within: float = 20) -> FakeMessage:
        """The ephemeral message the bot answered ``hit`` with (filled, not "thinking…")."""

        def found() -> FakeMessage | None:
            candidates = [hit.original, *hit.followups]
            for message in candidates:
                if message is not None and message.ephemeral and not message.loading and not message.deleted:
                    return message
            return None

        return await self.fake.wait_for(found, within, f"a private reply to {hit.describe()}")

    async def usage(self, user: FakeUser | None = None, channel: FakeChannel | None = None) -> str:
        """What ``/usage`` tells ``user`` (privately)."""
        hit = await self.fake.slash_command("usage", user=user, channel=channel)
        return (await self.private_reply(hit)).content


@pytest.fixture
async def dc(
    fake_discord: FakeDiscord, edit_api: FakeEditAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[DiscordHarness]:
    """A running Discord bot against the fakes; stopped after the test, which fails on logged errors."""
    caplog.set_level(logging.WARNING)
    harness = DiscordHarness(fake_discord, edit_api, tmp_path)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
    errors = [
        r for r in caplog.records if r.levelno >= logging.ERROR and r.name.split(".")[0] in WATCHED_LOGGERS
    ]
    assert not errors, "\n".join(r.getMessage() + (f"\n{r.exc_text or ''}") for r in errors)
