"""How many users the Telegram bot serves at once: N users each send a photo with a caption while every
edit takes ``latency`` seconds at the (fake) edit API.

Baseline, measured in the same run: the same bot with EDITBOT_API_CONCURRENCY=1 (edits one after
another). Printed: wall time from the first photo to the last result, and the speed-up ratio. Traffic
stays on 127.0.0.1 (fake Bot API, fake edit API); the run stops by itself.

    .venv/bin/python -m benchmarks.bench_concurrency [--users 20] [--latency 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram


async def serve_users(users: int, latency: float, concurrency: int) -> float:
    """Seconds until ``users`` simultaneous edits have all come back."""
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake, FakeEditAPI() as api:
            harness = TelegramHarness(fake, api, Path(tmp))
            await harness.start(api_concurrency=concurrency)
            try:
                api.latency = latency
                people = [fake.user() for _ in range(users)]
                chats = [fake.private_chat(p) for p in people]
                photo = sample_png(256, 256)
                started = time.perf_counter()
                sent = [
                    fake.send_photo(c, p, photo, caption="benchmark")
                    for c, p in zip(chats, people, strict=True)
                ]
                await asyncio.gather(
                    *(
                        harness.photo(c, after=s.message_id, within=users * latency + 60)
                        for c, s in zip(chats, sent, strict=True)
                    )
                )
                elapsed = time.perf_counter() - started
                await harness.idle()
                return elapsed
            finally:
                await harness.stop()


async def main(users: int, latency: float) -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    serial = await serve_users(users, latency, concurrency=1)
    parallel = await serve_users(users, latency, concurrency=users)
    print(f"{users} users, {latency:.1f} s per edit at the API")
    print(f"{'variant':<28}{'wall s':>8}")
    print(f"{'baseline: concurrency 1':<28}{serial:>8.2f}")
    print(f"{f'editbot: concurrency {users}':<28}{parallel:>8.2f}")
    print(
        f"speed-up (baseline/editbot): {serial / parallel:.1f}x; ideal {users}x; "
        f"overhead over one edit: {parallel / latency:.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--latency", type=float, default=1.0)
    ns = parser.parse_args()
    asyncio.run(main(ns.users, ns.latency))
