"""One edit, one user: how much each bot adds to the edit API's own time (issue 11).

A 12-megapixel phone JPEG (EXIF-rotated, as ``bench_prepare`` makes it) goes to the Telegram bot
as a photo and as a file, and to the Discord bot as the attachment of an ``/edit``, while every
edit takes ``--latency`` seconds at the (fake) edit API. Baseline, in the same run: that latency
(no bot can answer sooner). Printed: median wall time from sending to the result shown (Telegram:
the photo, for a file the full-size file too; Discord: the result attached to the command's
answer), the overhead over the latency and the ratio. Traffic stays on 127.0.0.1. The bot runs
alone in a child process (``benchmarks.botproc``), so the fakes' own work (storing the upload,
making Telegram's photo sizes) does not take its CPU; the bot's CPU time per edit is printed too.

    .venv/bin/python -m benchmarks.bench_single [--platform telegram discord] [--latency 3] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.bench_prepare import make_photo
from benchmarks.botproc import BotProcess, discord_settings, telegram_settings
from tests.fakes.discord_sdk import preserved_discord_py_endpoints
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI
from tests.fakes.telegram_model import ChatMessage
from tests.fakes.telegram_server import FakeTelegram

TARGET_OVERHEAD = 0.1
TARGET_RATIO = 1.033

OneEdit = Callable[[], Awaitable[float]]


def is_result(m: ChatMessage) -> bool:
    """A result photo (not a live preview)."""
    return m.photo is not None and not m.deleted and not (m.caption or "").startswith("🖌")


async def telegram_one(fake: FakeTelegram, photo: bytes, as_file: bool) -> float:
    """One Telegram edit of ``photo`` (sent as a photo or as a file): seconds until the result shows."""
    user = fake.user()
    chat = fake.private_chat(user)
    # The clock starts once Telegram (the fake) has the user's message: its own processing of the
    # upload is not the bot's.
    if as_file:
        m = fake.send_document(chat, user, photo, "IMG_0001.jpg", "image/jpeg", caption="make it warmer")
        started = time.monotonic()
        await fake.wait_for_message(chat, is_result, after=m.message_id, timeout=120)
        await fake.wait_for_message(chat, lambda x: x.document is not None, after=m.message_id, timeout=120)
    else:
        m = fake.send_photo(chat, user, photo, caption="make it warmer")
        started = time.monotonic()
        await fake.wait_for_message(chat, is_result, after=m.message_id, timeout=120)
    return time.monotonic() - started


async def discord_one(fake: FakeDiscord, photo: bytes) -> float:
    """One Discord ``/edit`` with ``photo`` attached: seconds until the result is on the answer."""
    user = fake.add_user("benchmark")
    # On Discord's CDN before the command runs, as a client uploads it first.
    attachment = fake.add_attachment(photo, "IMG_0001.jpg", "image/jpeg")
    started = time.monotonic()
    hit = await fake.slash_command("edit", {"image": attachment, "prompt": "make it warmer"}, user=user)
    await hit.wait_for_original(
        lambda m: bool(m.files) and not m.deleted and not m.content.startswith("🖌"), timeout=120
    )
    return time.monotonic() - started


async def measure(bot: BotProcess, label: str, one: OneEdit, latency: float, runs: int) -> None:
    """A warm-up edit, then ``runs`` timed ones; prints one line of the table."""
    # The fakes' own work (rendering the answer, Telegram's photo sizes) is done once, in the
    # warm-up edit, and remembered: it is not the bot's overhead.
    await one()
    await bot.ask("idle")
    await bot.ask("reset")
    times = []
    for _ in range(runs):
        times.append(await one())
        await bot.ask("idle")
    cpu = (await bot.ask("stats"))["cpu"] / runs
    median = statistics.median(times)
    overhead, ratio = median - latency, median / latency
    verdict = "ok" if overhead <= TARGET_OVERHEAD and ratio <= TARGET_RATIO else "MISSED"
    print(
        f"{label:<20}{median:>10.3f}{overhead:>12.3f}{ratio:>8.3f}{cpu * 1000:>12.0f}  {verdict}",
        flush=True,
    )


def common_settings(api: FakeEditAPI, tmp: str) -> dict[str, Any]:
    """What both bots run with: the fake edit API, SQLite, the quota out of the way."""
    return {
        "api_base_url": api.base_url,
        "api_key": api.api_key,
        "database_url": f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}",
        "user_quota": 1000,
        "community_quota": 100_000,
        "shutdown_grace": 0.0,
    }


async def telegram(photo: bytes, latency: float, runs: int) -> None:
    """The Telegram rows: the JPEG sent as a photo, then as a file."""
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake, FakeEditAPI() as api:
            settings = {**common_settings(api, tmp), **telegram_settings(fake)}
            async with BotProcess(settings, log=Path(tmp) / "bot.log") as bot:
                api.latency, api.cache_renders = latency, True
                for as_file in (False, True):
                    label = "telegram file" if as_file else "telegram photo"
                    await measure(bot, label, lambda f=as_file: telegram_one(fake, photo, f), latency, runs)


async def discord(photo: bytes, latency: float, runs: int) -> None:
    """The Discord row: ``/edit`` with the JPEG as its attachment."""
    with tempfile.TemporaryDirectory() as tmp, preserved_discord_py_endpoints():
        async with FakeDiscord() as fake, FakeEditAPI() as api:
            settings = {**common_settings(api, tmp), **discord_settings(fake)}
            async with BotProcess(settings, log=Path(tmp) / "bot.log") as bot:
                api.latency, api.cache_renders = latency, True
                await measure(bot, "discord attachment", lambda: discord_one(fake, photo), latency, runs)


async def main(platforms: list[str], latency: float, runs: int) -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    photo = make_photo()
    print(
        f"One 12 MP phone JPEG ({len(photo) / 1e6:.1f} MB, EXIF-rotated), "
        f"API latency {latency:.1f} s, median of {runs} runs; bot in its own process"
    )
    print(f"{'sent as':<20}{'median s':>10}{'overhead s':>12}{'ratio':>8}{'bot CPU ms':>12}")
    if "telegram" in platforms:
        await telegram(photo, latency, runs)
    if "discord" in platforms:
        await discord(photo, latency, runs)
    print(f"targets: overhead <= {TARGET_OVERHEAD} s, ratio <= {TARGET_RATIO}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--platform", nargs="+", choices=["telegram", "discord"], default=["telegram", "discord"]
    )
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    ns = parser.parse_args()
    asyncio.run(main(ns.platform, ns.latency, ns.runs))
