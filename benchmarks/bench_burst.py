"""A burst: N users send a photo to the Telegram bot at the same moment (issue 11).

Every edit takes ``--latency`` seconds at the (fake) edit API and EDITBOT_API_CONCURRENCY = N, so
nothing waits for an API slot: what is measured is the bot and its Telegram call budget
(EDITBOT_TELEGRAM_RATE, 30 calls/s). A bystander asks /usage every half second during the burst.
Traffic stays on 127.0.0.1; the run stops by itself. Baselines, in the same run: the API latency
(an edit cannot come back sooner) and the platform budget (N status messages cannot all be shown
sooner than N / rate seconds).

Printed per N: last result / latency; failures; first feedback p50/p95 (photo sent -> status shown)
against N / rate; /usage p95; Bot API calls per edit by method; CPU ms per edit (the whole process,
fakes included: an upper bound); DB statements per edit; peak RSS.

    .venv/bin/python -m benchmarks.bench_burst [--users 50 100 200] [--latency 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram

RATE = 30.0


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values``; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def burst(users: int, latency: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake, FakeEditAPI() as api:
            harness = TelegramHarness(fake, api, Path(tmp))
            await harness.start(api_concurrency=users, user_quota=1000)
            assert harness.core is not None
            statements = 0

            def count(*_: Any) -> None:
                nonlocal statements
                statements += 1

            sa.event.listen(harness.core.database.sync_engine, "before_cursor_execute", count)
            try:
                api.latency = latency
                people = [fake.user() for _ in range(users)]
                chats = [fake.private_chat(p) for p in people]
                bystander = fake.user()
                by_chat = fake.private_chat(bystander)
                photo = sample_png(256, 256)
                before = len(fake.bot_calls)
                cpu0 = time.process_time()
                started = time.monotonic()
                sent = [
                    fake.send_photo(c, p, photo, caption="benchmark")
                    for c, p in zip(chats, people, strict=True)
                ]
                usage_waits: list[float] = []
                done = asyncio.Event()

                async def ask_usage() -> None:
                    after = 0
                    while not done.is_set():
                        asked = time.monotonic()
                        m = fake.send_text(by_chat, bystander, "/usage")
                        reply = await harness.text(
                            by_chat, "You've used", after=max(after, m.message_id), within=120
                        )
                        usage_waits.append(time.monotonic() - asked)
                        after = reply.message_id
                        await asyncio.sleep(0.5)

                asker = asyncio.create_task(ask_usage())
                results = await asyncio.gather(
                    *(
                        harness.photo(c, after=s.message_id, within=users + latency + 120)
                        for c, s in zip(chats, sent, strict=True)
                    ),
                    return_exceptions=True,
                )
                last = time.monotonic() - started
                done.set()
                await asker
                await harness.idle()
                cpu = time.process_time() - cpu0
            finally:
                sa.event.remove(harness.core.database.sync_engine, "before_cursor_execute", count)
                await harness.stop()
            calls = [c for c in fake.bot_calls[before:] if c.params.get("chat_id") != by_chat.id]
            first: dict[int, float] = {}
            for c in calls:
                chat_id = int(c.params.get("chat_id") or 0)
                if c.method == "sendMessage" and chat_id not in first:
                    first[chat_id] = c.at - started
            failures = sum(1 for r in results if isinstance(r, BaseException))
            return {
                "last": last,
                "failures": failures,
                "first": list(first.values()),
                "usage": usage_waits,
                "methods": Counter(c.method for c in calls),
                "cpu": cpu,
                "statements": statements,
            }


async def main(sizes: list[int], latency: float) -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    print(
        f"Telegram burst, API latency {latency:.1f} s, EDITBOT_API_CONCURRENCY = N, budget {RATE:.0f} calls/s"
    )
    for n in sizes:
        r = await burst(n, latency)
        per_edit = {m: k / n for m, k in sorted(r["methods"].items())}
        budget = n / RATE
        print(f"\nN = {n}")
        print(f"  last result / latency: {r['last'] / latency:.2f}x   failures: {r['failures']}")
        print(
            f"  first feedback p50 {pct(r['first'], 0.5):.2f} s, p95 {pct(r['first'], 0.95):.2f} s"
            f"  (budget N/rate = {budget:.2f} s; p95 / (N/rate + 0.3) = "
            f"{pct(r['first'], 0.95) / (budget + 0.3):.2f})"
        )
        print(f"  /usage p95 {pct(r['usage'], 0.95) * 1000:.0f} ms over {len(r['usage'])} asks")
        print(
            f"  Bot API calls per edit: {sum(per_edit.values()):.2f} "
            + ", ".join(f"{m} {v:.2f}" for m, v in per_edit.items())
        )
        print(f"  CPU per edit (whole process, fakes included): {r['cpu'] / n * 1000:.1f} ms")
        print(f"  DB statements per edit: {r['statements'] / n:.1f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS (whole process): {rss:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--latency", type=float, default=5.0)
    ns = parser.parse_args()
    asyncio.run(main(ns.users, ns.latency))
