"""Discord as a service: `editbot run` runs both bots in one process; a refused token is explained."""

from __future__ import annotations

import asyncio
from pathlib import Path

import discord.http
import pytest

from bots.commands.run import serve
from bots.settings import load_settings
from core.errors import ConfigError
from tests.e2e.discord_harness import DiscordHarness, picture
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI, expected_edit, same_pixels, sample_png
from tests.fakes.telegram_server import FakeTelegram


async def test_editbot_run_serves_telegram_and_discord_in_one_process(
    fake_discord: FakeDiscord, fake_telegram: FakeTelegram, edit_api: FakeEditAPI, tmp_path: Path
) -> None:
    settings = load_settings(
        env_file=None,
        api_base_url=edit_api.base_url,
        api_key=edit_api.api_key,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        telegram_token=fake_telegram.token,
        telegram_api_url=fake_telegram.api_url,
        telegram_file_url=fake_telegram.file_url,
        discord_token=fake_discord.token,
        discord_api_url=fake_discord.api_url,
        discord_gateway_url=fake_discord.gateway_url,
    )
    stop = asyncio.Event()
    service = asyncio.create_task(serve(settings, stop))
    try:
        await fake_discord.wait_until_ready(timeout=20)
        photo = fake_discord.add_attachment(sample_png(48, 48), "d.png")
        hit = await fake_discord.slash_command("edit", {"image": photo, "prompt": "from discord"})
        from_discord = await hit.wait_for_original(lambda m: m.files, timeout=20)

        user = fake_telegram.user()
        chat = fake_telegram.private_chat(user)
        sent = fake_telegram.send_photo(chat, user, sample_png(48, 48, seed=5), caption="from telegram")
        await fake_telegram.wait_for_message(
            chat, lambda m: m.photo is not None and bool(m.button_texts), after=sent.message_id, timeout=20
        )
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)

    by_prompt = {r.value("prompt"): r for r in edit_api.requests}
    assert set(by_prompt) == {"from discord", "from telegram"}
    assert same_pixels(
        picture(from_discord),
        expected_edit(
            by_prompt["from discord"].images[0].data, None, by_prompt["from discord"].value("size")
        ),
    )
    assert not fake_discord.is_bot_connected


async def test_a_refused_token_is_explained_and_endpoints_are_restored(dc: DiscordHarness) -> None:
    await dc.stop()
    base = discord.http.Route.BASE  # what it was before any bot pointed it at the fake
    assert base != dc.fake.api_url
    with pytest.raises(ConfigError, match="EDITBOT_DISCORD_TOKEN"):
        await dc.start(discord_token="not-a-token")
    assert base == discord.http.Route.BASE


async def test_shutdown_mid_edit_hands_the_edit_to_the_next_process(dc: DiscordHarness) -> None:
    dc.api.hang_next()
    photo = dc.fake.add_attachment(sample_png(48, 48), "p.png")
    hit = await dc.fake.slash_command("edit", {"image": photo, "prompt": "after a restart"})
    await dc.fake.wait_for(lambda: len(dc.api.requests) == 1, 20, "the edit to reach the API")
    await dc.stop()  # SIGTERM while the edit is in flight
    await hit.wait_for_original(lambda m: "The bot is restarting" in m.content, timeout=20)
    await dc.start()
    result = await dc.result(hit)
    await dc.idle()
    assert result.content == "after a restart" and len(dc.api.requests) == 2
    assert "used 1 of" in await dc.usage()


async def test_shutdown_mid_edit_with_refund_mode_refunds_and_tells_the_user(dc: DiscordHarness) -> None:
    await dc.restart(resume_interrupted="refund")
    dc.api.hang_next()
    photo = dc.fake.add_attachment(sample_png(48, 48), "p.png")
    hit = await dc.fake.slash_command("edit", {"image": photo, "prompt": "never finishes"})
    await dc.fake.wait_for(lambda: len(dc.api.requests) == 1, 20, "the edit to reach the API")
    await dc.stop()  # SIGTERM while the edit is in flight
    told = await hit.wait_for_original(
        lambda m: "The bot restarted while working on your edit" in m.content, timeout=20
    )
    assert "not charged" in told.content
    await dc.start()
    assert "used 0 of" in await dc.usage()
