"""One edit, one user: how much the Telegram bot adds to the edit API's own time (issue 11).

A 12-megapixel phone JPEG (EXIF-rotated, as ``bench_prepare`` makes it) is sent as a photo and as
a file while every edit takes ``--latency`` seconds at the (fake) edit API. Baseline, in the same
run: that latency (no bot can answer sooner). Printed: median wall time from sending to the
result shown (the photo; for a file, the full-size file too), the overhead over the latency and the
ratio. Traffic stays on 127.0.0.1. The bot runs alone in a child process (``benchmarks.botproc``),
so the fakes' own work (storing the upload, making Telegram's photo sizes) does not take its CPU;
the bot's CPU time per edit is printed too.

    .venv/bin/python -m benchmarks.bench_single [--latency 3] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.bench_prepare import make_photo
from benchmarks.botproc import BotProcess
from tests.fakes.edit_api import FakeEditAPI
from tests.fakes.telegram_model import ChatMessage
from tests.fakes.telegram_server import FakeTelegram


def is_result(m: ChatMessage) -> bool:
    """A result photo (not a live preview)."""
    return m.photo is not None and not m.deleted and not (m.caption or "").startswith("🖌")


async def one(bot: BotProcess, fake: FakeTelegram, photo: bytes, as_file: bool) -> float:
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
    elapsed = time.monotonic() - started
    await bot.ask("idle")
    return elapsed


async def main(latency: float, runs: int) -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    photo = make_photo()
    print(
        f"Telegram, one 12 MP phone JPEG ({len(photo) / 1e6:.1f} MB), "
        f"API latency {latency:.1f} s, {runs} runs"
    )
    print(f"{'sent as':<10}{'median s':>10}{'overhead s':>12}{'ratio':>8}{'bot CPU ms':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake, FakeEditAPI() as api:
            settings = {
                "api_base_url": api.base_url,
                "api_key": api.api_key,
                "database_url": f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}",
                "user_quota": 1000,
                "shutdown_grace": 0.0,
                "telegram_token": fake.token,
                "telegram_api_url": fake.api_url,
                "telegram_file_url": fake.file_url,
            }
            async with BotProcess(settings, log=Path(tmp) / "bot.log") as bot:
                # The fakes' own work (rendering the answer, Telegram's photo sizes) is done once,
                # in a warm-up edit per kind, and remembered: it is not the bot's overhead.
                api.latency, api.cache_renders = latency, True
                for as_file in (False, True):
                    await one(bot, fake, photo, as_file)
                    await bot.ask("reset")
                    times = [await one(bot, fake, photo, as_file) for _ in range(runs)]
                    cpu = (await bot.ask("stats"))["cpu"] / runs
                    median = statistics.median(times)
                    label = "file" if as_file else "photo"
                    print(
                        f"{label:<10}{median:>10.3f}{median - latency:>12.3f}{median / latency:>8.3f}"
                        f"{cpu * 1000:>12.0f}"
                    )
    print("targets: overhead <= 0.1 s, ratio <= 1.033")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    ns = parser.parse_args()
    asyncio.run(main(ns.latency, ns.runs))
