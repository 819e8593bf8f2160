"""The same Telegram update and the same Discord interaction arriving twice — in one process, or at
two processes on one PostgreSQL database, even at the same moment: one edit, one charge, one
answer, and never a "you already have an edit in progress".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from adapters.telegram_bot.runner import build_application
from bots.bootstrap import Core
from bots.settings import Settings
from core.events import Origin
from core.identity import ChatRef, Community, Platform, UserKey
from tests.e2e.bot_harness import BotHarness
from tests.e2e.discord_harness import DiscordHarness
from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram
from tests.integration.db_fixtures import postgres_schema

BUSY = "already have an edit"


async def test_telegram_update_delivered_twice_at_once(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="only once")
    tg.fake.deliver_again(tg.fake.bot.pending[-1])  # in the same getUpdates batch
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    m2 = tg.fake.send_text(chat, user, "/usage")
    await tg.text(chat, "You've used 1 of 10", after=m2.message_id)
    texts = [x.content or "" for x in tg.fake.messages_in(chat, include_deleted=True)]
    photos = [
        x
        for x in tg.fake.messages_in(chat, include_deleted=True)
        if x.photo is not None and not (x.caption or "").startswith("🖌")
    ]
    assert len(tg.api.requests) == 1 and len(photos) == 1 and not [t for t in texts if BUSY in t]


async def test_discord_interaction_delivered_twice_at_once(dc: DiscordHarness) -> None:
    hit = await dc.fake.slash_command("edit", {"image": dc.photo(sample_png(48, 48)), "prompt": "only once"})
    await dc.fake.deliver_again(hit)
    result = await dc.result(hit)
    await dc.idle()
    assert result.content == "only once" and len(dc.api.requests) == 1
    assert not [m for m in hit.followups if BUSY in m.content]
    assert "used 1 of" in await dc.usage()


@asynccontextmanager
async def _processes(url: str, *harnesses: BotHarness) -> AsyncIterator[list[Core]]:
    """The harnesses' bots as processes sharing one fresh PostgreSQL schema; their cores."""
    async with postgres_schema(url) as schema, AsyncExitStack() as stack:
        cores = []
        for harness in harnesses:
            await harness.start(database_url=url, database_schema=schema)
            stack.push_async_callback(harness.stop)
            assert harness.core is not None
            cores.append(harness.core)
        yield cores


@dataclass
class _WebhookFed(TelegramHarness):
    """A Telegram bot process that polls nothing: the test feeds it updates as a webhook would."""

    app: Any = None

    def bot(self, settings: Settings, core: Core) -> AbstractAsyncContextManager[Any]:
        """The application, started without polling."""

        @asynccontextmanager
        async def fed() -> AsyncIterator[Any]:
            self.app = build_application(settings, core)
            async with self.app:
                await self.app.start()
                try:
                    yield self.app
                finally:
                    await self.app.stop()

        return fed()


@pytest.mark.postgres
async def test_telegram_update_at_two_processes_on_postgres(
    fake_telegram: FakeTelegram, edit_api: FakeEditAPI, postgres_url: str, tmp_path: Path
) -> None:
    polling = TelegramHarness(fake_telegram, edit_api, tmp_path)
    fed = _WebhookFed(fake_telegram, edit_api, tmp_path)
    async with _processes(postgres_url, polling, fed) as (one, two):
        app2 = fed.app
        user = fake_telegram.user()
        chat = fake_telegram.private_chat(user)
        m = fake_telegram.send_photo(chat, user, sample_png(64, 64), caption="one of two")
        payload = fake_telegram.bot.pending[-1]
        # The second process receives the same update at the same moment (a webhook retry).
        await app2.update_queue.put(Update.de_json(payload, app2.bot))
        await fake_telegram.wait_for_message(
            chat, lambda x: x.photo is not None and not (x.caption or "").startswith("🖌"), after=m, timeout=30
        )
        await asyncio.gather(one.runner.wait_idle(), two.runner.wait_idle())
        assert not await one.store.active_jobs("telegram", str(user.id)) and len(edit_api.requests) == 1
        usage = await one.engine.usage(_origin(user.id, chat.id))
        assert usage[0].params["used"] == 1
        texts = [x.content or "" for x in fake_telegram.messages_in(chat, include_deleted=True)]
        photos = [
            x
            for x in fake_telegram.messages_in(chat, include_deleted=True)
            if x.photo is not None and not (x.caption or "").startswith("🖌")
        ]
        assert len(photos) == 1 and not [t for t in texts if BUSY in t]


def _origin(user_id: int, chat_id: int) -> Origin:
    return Origin(UserKey(Platform.TELEGRAM, str(user_id)), ChatRef(Platform.TELEGRAM, str(chat_id)), "x")


@pytest.mark.postgres
async def test_discord_interaction_at_two_processes_on_postgres(
    fake_discord: FakeDiscord, edit_api: FakeEditAPI, postgres_url: str, tmp_path: Path
) -> None:
    processes = [DiscordHarness(fake_discord, edit_api, tmp_path) for _ in range(2)]
    async with _processes(postgres_url, *processes) as (one, two):
        photo = fake_discord.add_attachment(sample_png(48, 48), "p.png")
        hit = await fake_discord.slash_command("edit", {"image": photo, "prompt": "one of two"})
        await fake_discord.deliver_again(hit, everywhere=True)  # both processes get it, one of them twice
        result = await hit.wait_for_original(lambda m: m.files and not m.deleted, timeout=30)
        await asyncio.gather(one.runner.wait_idle(), two.runner.wait_idle())
        assert result.content == "one of two" and len(edit_api.requests) == 1
        assert not [m for m in hit.followups if BUSY in m.content]
        user = fake_discord.default_user
        guild = fake_discord.default_guild
        where = ChatRef(Platform.DISCORD, str(hit.channel.id))
        origin = Origin(
            UserKey(Platform.DISCORD, str(user.id)), where, "x", Community(Platform.DISCORD, str(guild.id))
        )
        assert [t.params["used"] for t in await one.engine.usage(origin)][:1] == [1]
