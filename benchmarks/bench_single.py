"""One edit, one user: how much the Telegram bot adds to the edit API's own time (issue 11).

A 12-megapixel phone JPEG (EXIF-rotated, as ``bench_prepare`` makes it) is sent as a photo and as
a file while every edit takes ``--latency`` seconds at the (fake) edit API. Baseline, in the same
run: that latency (no bot can answer sooner). Printed: median wall time from sending to the
result shown (the photo; for a file, the full-size file too), the overhead over the latency and the
ratio. Traffic stays on 127.0.0.1; the fakes run in the same process, so their work (storing the
upload, making Telegram's photo sizes) is in the overhead too.

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
from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import FakeEditAPI
from tests.fakes.telegram_server import FakeTelegram


async def one(harness: TelegramHarness, fake: FakeTelegram, photo: bytes, as_file: bool) -> float:
    user = fake.user()
    chat = fake.private_chat(user)
    # The clock starts once Telegram (the fake) has the user's message: its own processing of the
    # upload is not the bot's.
    if as_file:
        m = fake.send_document(chat, user, photo, "IMG_0001.jpg", "image/jpeg", caption="make it warmer")
        started = time.monotonic()
        await harness.photo(chat, after=m.message_id, within=120)
        await harness.reply(chat, lambda x: x.document is not None, after=m.message_id, within=120)
    else:
        m = fake.send_photo(chat, user, photo, caption="make it warmer")
        started = time.monotonic()
        await harness.photo(chat, after=m.message_id, within=120)
    elapsed = time.monotonic() - started
    await harness.idle()
    return elapsed


async def main(latency: float, runs: int) -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    photo = make_photo()
    print(
        f"Telegram, one 12 MP phone JPEG ({len(photo) / 1e6:.1f} MB), "
        f"API latency {latency:.1f} s, {runs} runs"
    )
    print(f"{'sent as':<10}{'median s':>10}{'overhead s':>12}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake, FakeEditAPI() as api:
            harness = TelegramHarness(fake, api, Path(tmp))
            await harness.start(user_quota=1000)
            try:
                api.latency = latency
                for as_file in (False, True):
                    times = [await one(harness, fake, photo, as_file) for _ in range(runs)]
                    median = statistics.median(times)
                    label = "file" if as_file else "photo"
                    print(f"{label:<10}{median:>10.3f}{median - latency:>12.3f}{median / latency:>8.3f}")
            finally:
                await harness.stop()
    print("targets: overhead <= 0.1 s, ratio <= 1.033")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    ns = parser.parse_args()
    asyncio.run(main(ns.latency, ns.runs))
