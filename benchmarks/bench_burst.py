"""A burst: N users send a photo to the bot at the same moment, on Telegram and on Discord (issue 11).

Every edit takes ``--latency`` seconds at the (fake) edit API, its partial images coming evenly
over that time as a real model paints them, and EDITBOT_API_CONCURRENCY = N, so nothing waits for
an API slot: what is measured is the bot and its platform call budget. A bystander asks /usage
every half second during the burst. The bot runs alone in a child process
(``benchmarks.botproc``); the fakes and the users run here, so the CPU time and the statements
counted are the bot's only. Traffic stays on 127.0.0.1; the run stops by itself. Baselines, in the
same run: the API latency (an edit cannot come back sooner) and, on Telegram, the platform budget
(N status messages cannot all be shown sooner than N / rate seconds, EDITBOT_TELEGRAM_RATE = 30).

Printed per platform and N: last (and median) result / latency; failures; first feedback p50/p95
(Telegram: photo sent -> status shown; Discord: command run -> acknowledged); /usage p95; when
the edit-API calls began (first, median, last: the last result cannot come sooner than the last
call's start plus the latency); platform calls per edit by method; bot CPU ms per edit; DB
statements per edit; the bot's peak RSS. What the bot spends on the bystander's /usage asks
(measured alone before the burst) is taken out of the per-edit CPU and statements.

    .venv/bin/python -m benchmarks.bench_burst [--platform telegram discord] [--users 50 100 200]
        [--latency 5] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.botproc import BotProcess, discord_settings, telegram_settings
from tests.fakes.discord_sdk import preserved_discord_py_endpoints
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.fakes.telegram_server import FakeTelegram

RATE = 30.0


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values``; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def common_settings(api: FakeEditAPI, tmp: str, users: int) -> dict[str, Any]:
    """What both platforms' bots run with: the fake edit API, SQLite, N API slots, quotas raised."""
    return {
        "api_base_url": api.base_url,
        "api_key": api.api_key,
        "database_url": f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}",
        "api_concurrency": users,
        "user_quota": 1000,
        "community_quota": 100_000,
        "shutdown_grace": 0.0,
    }


def paced(api: FakeEditAPI, latency: float) -> None:
    """Make the fake API paint like the real one: every answer after ``latency``, a stream's partial
    images evenly over it. (Sent at once on the call, N users' previews would all land while the
    bot is still starting the other calls, which no real endpoint does.)"""
    api.latency, api.spread_partials = latency, True
    api.cache_renders = True  # the fakes must not set the pace


def profile_path(profile: str | None, platform: str, users: int) -> str | None:
    """Where the bot process writes its cProfile stats, when asked."""
    return str(Path(profile) / f"burst-{platform}-{users}.prof") if profile else None


async def calibrate(bot: BotProcess, usage_once: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    """What the bot spends on one /usage (CPU, statements), to take the bystander out of per-edit figures."""
    await bot.ask("reset")
    for _ in range(3):
        await usage_once()
    await asyncio.sleep(0.2)
    stats = await bot.ask("stats")
    return {k: stats[k] / 3 for k in ("cpu", "loop_cpu", "statements")}


def without_bystander(stats: dict[str, Any], one: dict[str, Any], asks: int) -> dict[str, Any]:
    """The burst's figures less ``asks`` /usage answers of the bystander."""
    return {**stats, **{k: max(0.0, stats[k] - one[k] * asks) for k in one}}


async def telegram_burst(users: int, latency: float, profile: str | None) -> dict[str, Any]:
    """One Telegram burst of ``users`` photos."""
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake, FakeEditAPI() as api:
            settings = {**common_settings(api, tmp, users), **telegram_settings(fake)}
            async with BotProcess(
                settings, profile=profile_path(profile, "telegram", users), log=Path(tmp) / "bot.log"
            ) as bot:
                paced(api, latency)
                people = [fake.user() for _ in range(users)]
                chats = [fake.private_chat(p) for p in people]
                bystander = fake.user()
                by_chat = fake.private_chat(bystander)
                photo = sample_png(256, 256)
                usage_waits: list[float] = []
                done = asyncio.Event()

                async def usage_once() -> None:
                    asked = time.monotonic()
                    m = fake.send_text(by_chat, bystander, "/usage")
                    await fake.wait_for_message(
                        by_chat, lambda x: "You've used" in (x.content or ""), after=m.message_id, timeout=120
                    )
                    usage_waits.append(time.monotonic() - asked)

                async def ask_usage() -> None:
                    while not done.is_set():
                        await usage_once()
                        await asyncio.sleep(0.5)

                bystander_cost = await calibrate(bot, usage_once)
                usage_waits.clear()
                await bot.ask("reset")
                before = len(fake.bot_calls)
                started, fakes_cpu, fakes_loop = time.monotonic(), time.process_time(), time.thread_time()
                sent = [
                    fake.send_photo(c, p, photo, caption="benchmark")
                    for c, p in zip(chats, people, strict=True)
                ]

                def is_result(m: Any) -> bool:
                    return m.photo is not None and not m.deleted and not (m.caption or "").startswith("🖌")

                asker = asyncio.create_task(ask_usage())
                finished: list[float] = []

                async def result(chat: Any, after: int) -> None:
                    await fake.wait_for_message(chat, is_result, after=after, timeout=users + latency + 120)
                    finished.append(time.monotonic() - started)

                results = await asyncio.gather(
                    *(result(c, s.message_id) for c, s in zip(chats, sent, strict=True)),
                    return_exceptions=True,
                )
                last = max(finished, default=float("nan"))
                fakes_cpu, wall = time.process_time() - fakes_cpu, time.monotonic() - started
                fakes_loop = time.thread_time() - fakes_loop
                done.set()
                await asker
                await bot.ask("idle")
                stats = await bot.ask("stats")
            calls = [c for c in fake.bot_calls[before:] if c.params.get("chat_id") != by_chat.id]
            first: dict[int, float] = {}
            for c in calls:
                chat_id = int(c.params.get("chat_id") or 0)
                if c.method == "sendMessage" and chat_id not in first:
                    first[chat_id] = c.at - started
            return {
                "last": last,
                "finished": finished,
                "fakes_cpu": fakes_cpu,
                "fakes_loop": fakes_loop,
                "wall": wall,
                "failures": sum(1 for r in results if isinstance(r, BaseException)),
                "first": list(first.values()),
                "usage": usage_waits,
                "methods": Counter(c.method for c in calls),
                "calls_began": [r.at - started for r in api.requests],
                **without_bystander(stats, bystander_cost, len(usage_waits)),
            }


def route(method: str, path: str) -> str:
    """A Discord REST call's route, ids and tokens replaced: ``POST /interactions/{}/{}/callback``."""
    parts = ["{}" if re.fullmatch(r"\d+|[\w-]{30,}", p) else p for p in path.split("/")]
    return f"{method} {'/'.join(parts)}"


async def discord_burst(users: int, latency: float, profile: str | None) -> dict[str, Any]:
    """One Discord burst of ``users`` /edit commands."""
    with tempfile.TemporaryDirectory() as tmp, preserved_discord_py_endpoints():
        async with FakeDiscord() as fake, FakeEditAPI() as api:
            settings = {**common_settings(api, tmp, users), **discord_settings(fake)}
            async with BotProcess(
                settings, profile=profile_path(profile, "discord", users), log=Path(tmp) / "bot.log"
            ) as bot:
                paced(api, latency)
                people = [fake.add_user(f"user{i}") for i in range(users)]
                bystander = fake.add_user("bystander")
                # One picture (each user still uploads their own attachment): the bot keeps nothing by
                # content, so its work is the same, and the fake API renders the edit once.
                photo = sample_png(256, 256)
                photos = [fake.add_attachment(photo, "photo.png", None) for _ in range(users)]
                usage_waits: list[float] = []
                done = asyncio.Event()
                first: list[float] = []
                finished: list[float] = []

                async def usage_once() -> None:
                    asked = time.monotonic()
                    hit = await fake.slash_command("usage", user=bystander)
                    await fake.wait_for(
                        lambda h=hit: h.original is not None and not h.original.loading, 120, "/usage"
                    )
                    usage_waits.append(time.monotonic() - asked)

                async def ask_usage() -> None:
                    while not done.is_set():
                        await usage_once()
                        await asyncio.sleep(0.5)

                bystander_cost = await calibrate(bot, usage_once)
                usage_waits.clear()
                await bot.ask("reset")
                before = len(fake.requests)
                started, fakes_cpu, fakes_loop = time.monotonic(), time.process_time(), time.thread_time()

                async def one(user: Any, photo: dict[str, Any]) -> None:
                    hit = await fake.slash_command("edit", {"image": photo, "prompt": "benchmark"}, user=user)
                    await hit.wait_for_response(timeout=120)
                    first.append(time.monotonic() - started)
                    await hit.wait_for_original(
                        lambda m: bool(m.files) and not m.deleted and not m.content.startswith("🖌"),
                        timeout=users + latency + 120,
                    )
                    finished.append(time.monotonic() - started)

                asker = asyncio.create_task(ask_usage())
                results = await asyncio.gather(
                    *(one(u, p) for u, p in zip(people, photos, strict=True)), return_exceptions=True
                )
                last = max(finished, default=float("nan"))
                fakes_cpu, wall = time.process_time() - fakes_cpu, time.monotonic() - started
                fakes_loop = time.thread_time() - fakes_loop
                done.set()
                await asker
                await bot.ask("idle")
                stats = await bot.ask("stats")
            bystander_hits = {str(h.id) for h in fake.interactions if h.user is bystander}
            bystander_tokens = {h.token for h in fake.interactions if h.user is bystander}
            calls = [
                r
                for r in fake.requests[before:]
                if not any(x in r.path for x in (*bystander_hits, *bystander_tokens))
                and not r.path.startswith(("/attachments", "/gateway"))
            ]
            return {
                "last": last,
                "finished": finished,
                "fakes_cpu": fakes_cpu,
                "fakes_loop": fakes_loop,
                "wall": wall,
                "failures": sum(1 for r in results if isinstance(r, BaseException)),
                "first": first,
                "usage": usage_waits,
                "methods": Counter(route(r.method, r.path) for r in calls),
                "calls_began": [r.at - started for r in api.requests],
                **without_bystander(stats, bystander_cost, len(usage_waits)),
            }


async def main(
    platforms: list[str], sizes: list[int], latency: float, profile: str | None, sql: bool = False
) -> None:
    for platform in platforms:
        print(
            f"\n{platform.capitalize()} burst, API latency {latency:.1f} s, EDITBOT_API_CONCURRENCY = N"
            + (f", budget {RATE:.0f} calls/s" if platform == "telegram" else "")
            + "; bot in its own process"
        )
        for n in sizes:
            run = telegram_burst if platform == "telegram" else discord_burst
            r = await run(n, latency, profile)
            per_edit = {m: k / n for m, k in sorted(r["methods"].items())}
            print(f"\nN = {n}")
            print(
                f"  last result / latency: {r['last'] / latency:.2f}x (of those that came;"
                f" p50 {pct(r['finished'], 0.5) / latency:.2f}x)   failures: {r['failures']}"
            )
            line = f"  first feedback p50 {pct(r['first'], 0.5):.2f} s, p95 {pct(r['first'], 0.95):.2f} s"
            if platform == "telegram":
                budget = n / RATE
                line += (
                    f"  (budget N/rate = {budget:.2f} s; p95 / (N/rate + 0.3) = "
                    f"{pct(r['first'], 0.95) / (budget + 0.3):.2f})"
                )
            print(line)
            print(f"  /usage p95 {pct(r['usage'], 0.95) * 1000:.0f} ms over {len(r['usage'])} asks")
            began = r["calls_began"]
            print(
                f"  edit-API calls began {pct(began, 0) * 1000:.0f} / {pct(began, 0.5) * 1000:.0f} /"
                f" {pct(began, 1) * 1000:.0f} ms after the burst (first / median / last)"
            )
            print(
                f"  platform calls per edit: {sum(per_edit.values()):.2f}: "
                + ", ".join(f"{m} {v:.2f}" for m, v in per_edit.items())
            )
            print(
                f"  bot CPU per edit: {r['cpu'] / n * 1000:.1f} ms"
                f" (event loop {r['loop_cpu'] / n * 1000:.1f})"
                f"   DB statements per edit: "
                f"{r['statements'] / n:.1f}   bot peak RSS: {r['rss_mb']:.0f} MB"
            )
            print(
                f"  the fakes' CPU (this process): {r['fakes_cpu']:.1f} s (event loop {r['fakes_loop']:.1f})"
                f" over {r['wall']:.1f} s"
                # One core's worth in the event loop: the fakes, not the bot, set the pace.
                + (" (near 1 s a second: they set the pace)" if r["fakes_loop"] > 0.8 * r["wall"] else "")
            )
            if sql:
                for text, k in r["sql"].items():
                    print(f"    {k / n:6.2f}  {text}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--platform", nargs="+", choices=["telegram", "discord"], default=["telegram", "discord"]
    )
    parser.add_argument("--users", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--latency", type=float, default=5.0)
    parser.add_argument("--sql", action="store_true", help="list the statements run, by kind")
    parser.add_argument("--profile", help="a folder: the bot process writes cProfile stats there")
    ns = parser.parse_args()
    asyncio.run(main(ns.platform, ns.users, ns.latency, ns.profile, ns.sql))
