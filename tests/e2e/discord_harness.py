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
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bots.bootstrap import Core
from bots.settings import Settings
from tests.e2e.bot_harness import BotHarness
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
class DiscordHarness(BotHarness):
    """The fakes, the running Discord bot, and helpers to wait for what a user sees."""

    fake: FakeDiscord

    def platform_settings(self) -> dict[str, Any]:
        """Point the bot at the fake Discord REST API and gateway."""
        return {
            "discord_token": self.fake.token,
            "discord_api_url": self.fake.api_url,
            "discord_gateway_url": self.fake.gateway_url,
        }

    def bot(self, settings: Settings, core: Core) -> AbstractAsyncContextManager[Any]:
        """The Discord runner; returns once the client is ready."""
        from adapters.discord_bot.runner import run_discord

        return run_discord(settings, core, guild_ready_timeout=0.05)

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
        """The interaction's response once it carries the result's files (not a live preview's)."""
        return await hit.wait_for_original(
            lambda m: m.files and not m.deleted and not m.content.startswith("🖌"), timeout=within
        )

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
