"""The platforms' side of ``bench_scale``, in a process of its own: the fake Telegram and Discord,
the users sending edits, and the stopwatch on what they see.

Run by ``benchmarks.bench_scale`` (not by hand). It talks JSON lines: it prints the fakes'
addresses, waits for ``go`` on stdin, sends ``--telegram`` and ``--discord`` edits a second for
``--seconds`` (printing ``{"sent": n}`` when done), and on ``stop`` prints what it measured. Keeping
the fakes out of the driver's process means the gateways are measured, not the fakes' event loop
competing with the driver's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.fakes.discord_interactions import FakeInteraction
from tests.fakes.discord_models import FakeGuild
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import sample_png
from tests.fakes.telegram_model import FakeChat
from tests.fakes.telegram_server import FakeTelegram

SENDING = ("send", "edit", "copy", "forward", "delete", "answer")


@dataclass
class Seen:
    """What the users saw, on this process's clock (``time.perf_counter``)."""

    sent: dict[str, float] = field(default_factory=dict)  # request -> when sent
    first: dict[str, float] = field(default_factory=dict)  # request -> first feedback
    done: dict[str, float] = field(default_factory=dict)  # request -> result shown
    duplicates: int = 0
    telegram_calls: list[float] = field(default_factory=list)
    discord_calls: list[float] = field(default_factory=list)
    loop_lag_ms: list[float] = field(default_factory=list)  # this process's own event-loop delay


async def _watch(
    seen: Seen, tg: FakeTelegram, dc: FakeDiscord, chats: dict[int, str], hits: dict[str, FakeInteraction]
) -> None:
    """Time first feedback and results as the fakes see them (polled every few milliseconds)."""
    seen_tg = seen_dc = 0
    photos: dict[str, int] = {}
    while True:
        now = time.perf_counter()
        calls = tg.bot_calls
        for call in calls[seen_tg:]:
            key = chats.get(int(call.params.get("chat_id") or 0))
            if call.method.startswith(SENDING):
                seen.telegram_calls.append(now)
            if key is None:
                continue
            seen.first.setdefault(key, now)
            if _is_result(call.method, call.params):
                photos[key] = photos.get(key, 0) + 1
                seen.done.setdefault(key, now)
        seen_tg = len(calls)
        requests = dc.requests
        seen.discord_calls += [now] * (len(requests) - seen_dc)
        seen_dc = len(requests)
        for key, hit in hits.items():
            if key not in seen.first and hit.acknowledged:
                seen.first[key] = now
            original = hit.original
            if (
                key not in seen.done
                and original is not None
                and original.files
                and not _preview(original.content)
            ):
                seen.done[key] = now
        seen.duplicates = sum(n - 1 for n in photos.values() if n > 1)
        await asyncio.sleep(0.005)
        seen.loop_lag_ms.append(1000 * (time.perf_counter() - now - 0.005))


def _preview(caption: str | None) -> bool:
    """A live preview's caption (the result replaces it in the same message)."""
    return (caption or "").startswith("🖌")


def _is_result(method: str, params: dict[str, Any]) -> bool:
    """A Telegram call that shows a result: a photo sent, or the status message turned into it."""
    if method == "sendPhoto":
        return not _preview(params.get("caption"))
    if method == "editMessageMedia":
        media = params.get("media")
        media = json.loads(media) if isinstance(media, str) else media or {}
        return not _preview(media.get("caption"))
    return False


async def _line() -> str:
    return (await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)).strip()


def _say(doc: dict[str, Any]) -> None:
    print(json.dumps(doc), flush=True)


async def _guilds_on_both_shards(dc: FakeDiscord, per_shard: int) -> list[FakeGuild]:
    """Guilds spread evenly over the 2 shards (Discord routes a guild by ``(id >> 22) % shards``, and ids
    made in the same millisecond share that: guilds made in one go may all land on one shard)."""
    by_shard: dict[int, list[FakeGuild]] = {0: [], 1: []}
    while min(len(g) for g in by_shard.values()) < per_shard:
        guild = dc.add_guild(f"Guild {sum(len(g) for g in by_shard.values())}")
        on = by_shard[(guild.id >> 22) % 2]
        if len(on) < per_shard:
            on.append(guild)
        await asyncio.sleep(0.002)  # the next id gets another millisecond
    return [g for pair in zip(by_shard[0], by_shard[1], strict=True) for g in pair]


async def main(args: argparse.Namespace) -> None:
    """Serve the fakes, load them when told, report when told."""
    seen = Seen()
    async with FakeTelegram() as tg, FakeDiscord() as dc:
        guilds = await _guilds_on_both_shards(dc, per_shard=3)
        _say(
            {
                "telegram": {"token": tg.token, "api_url": tg.api_url, "file_url": tg.file_url},
                "discord": {"token": dc.token, "api_url": dc.api_url, "gateway_url": dc.gateway_url},
            }
        )
        if await _line() != "go":
            return
        chats: dict[int, str] = {}
        hits: dict[str, FakeInteraction] = {}
        watcher = asyncio.create_task(_watch(seen, tg, dc, chats, hits))
        photo = sample_png(64, 64)
        started = time.perf_counter()
        carry_t = carry_d = 0.0
        for tick in range(int(args.seconds * 10)):
            carry_t += args.telegram / 10
            carry_d += args.discord / 10
            while carry_t >= 1:
                carry_t -= 1
                user = tg.user()
                chat: FakeChat = tg.private_chat(user)
                key = f"tg:{user.id}"
                chats[chat.id] = key
                seen.sent[key] = time.perf_counter()
                tg.send_photo(chat, user, photo, caption="bench")
            sends = []
            while carry_d >= 1:
                carry_d -= 1
                n = len(hits) + len(sends)
                member = dc.add_user(f"user{n}")
                attachment = dc.add_attachment(photo, f"p{n}.png")
                seen.sent[f"dc:{n}"] = time.perf_counter()
                command = dc.slash_command(
                    "edit",
                    {"image": attachment, "prompt": "bench"},
                    user=member,
                    guild=guilds[n % len(guilds)],
                )
                sends.append((f"dc:{n}", command))
            answered = await asyncio.gather(*(s for _, s in sends))
            hits.update(zip([k for k, _ in sends], answered, strict=True))
            await asyncio.sleep(max(0.0, started + (tick + 1) / 10 - time.perf_counter()))
        _say({"sent": len(seen.sent)})
        await _line()  # "stop": the driver saw every job finish
        deadline = time.perf_counter() + 10
        while len(seen.done) < len(seen.sent) and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        watcher.cancel()
        _say({"seen": asdict(seen)})


if __name__ == "__main__":
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--telegram", type=float, required=True)
    parser.add_argument("--discord", type=float, required=True)
    asyncio.run(main(parser.parse_args()))
