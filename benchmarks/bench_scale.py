"""Scaled out on one PostgreSQL: 2 gateways + 2 workers (``editbot run --role ...`` processes).

The fake Telegram delivers by webhook through a round-robin load balancer over both gateways;
the fake Discord has 2 shards, one per gateway; the fake edit API (its own process) answers after
``--latency`` seconds. Users send edits at ``--telegram`` and ``--discord`` per second for
``--seconds``; then the run drains. Run twice: as is (the baseline), and with one worker SIGKILLed
halfway (a replacement worker starts at once; the dead one's jobs come back when their lease runs
out). Printed per run: edits per hour sustained, time to first feedback (p50/p95), results and
platform calls per second against the platforms' limits, and double charges, lost and stuck jobs
(all must be 0). Loopback only; stops by itself.

    .venv/bin/python -m benchmarks.bench_scale [--seconds 40] [--telegram 4] [--discord 20] [--latency 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.storage.db import create_engine
from tests.e2e.scale_cluster import Cluster, free_port
from tests.fakes.discord_interactions import FakeInteraction
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import DEFAULT_KEY, sample_png
from tests.fakes.telegram_model import FakeChat
from tests.fakes.telegram_server import FakeTelegram
from tests.integration.db_fixtures import DEFAULT_POSTGRES_URL, POSTGRES_ENV, postgres_schema

TELEGRAM_LIMIT = 30.0  # messages a second per bot token
DISCORD_LIMIT = 50.0  # requests a second per bot token
SENDING = ("send", "edit", "copy", "forward", "delete", "answer")


@dataclass
class RemoteAPI:
    """The fake edit API running in its own process."""

    base_url: str
    api_key: str = DEFAULT_KEY


@dataclass
class Run:
    """What one run measured."""

    sent: dict[str, float] = field(default_factory=dict)  # request -> when sent
    first: dict[str, float] = field(default_factory=dict)  # request -> first feedback
    done: dict[str, float] = field(default_factory=dict)  # request -> result shown
    duplicates: int = 0
    telegram_calls: list[float] = field(default_factory=list)
    discord_calls: list[float] = field(default_factory=list)
    jobs: dict[str, int] = field(default_factory=dict)
    double_charges: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


async def _watch(
    run: Run, tg: FakeTelegram, dc: FakeDiscord, chats: dict[int, str], hits: dict[str, FakeInteraction]
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
                run.telegram_calls.append(now)
            if key is None:
                continue
            run.first.setdefault(key, now)
            if call.method == "sendPhoto":
                photos[key] = photos.get(key, 0) + 1
                run.done.setdefault(key, now)
        seen_tg = len(calls)
        requests = dc.requests
        run.discord_calls += [now] * (len(requests) - seen_dc)
        seen_dc = len(requests)
        for key, hit in hits.items():
            if key not in run.first and hit.acknowledged:
                run.first[key] = now
            if key not in run.done and hit.original is not None and hit.original.files:
                run.done[key] = now
        run.duplicates = sum(n - 1 for n in photos.values() if n > 1)
        await asyncio.sleep(0.005)


async def one_run(args: argparse.Namespace, api: RemoteAPI, kill: bool) -> Run:
    """Start the deployment, load it, (maybe) kill a worker, drain, and read the database."""
    url = os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL
    run = Run()
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeTelegram() as tg,
            FakeDiscord() as dc,
            postgres_schema(url) as schema,
        ):
            engine = create_engine(url, schema=schema)
            cluster = Cluster(tg, api, Path(tmp), url, schema, engine)  # type: ignore[arg-type]
            cluster.env |= {
                "EDITBOT_DISCORD_TOKEN": dc.token,
                "EDITBOT_DISCORD_API_URL": dc.api_url,
                "EDITBOT_DISCORD_GATEWAY_URL": dc.gateway_url,
                "EDITBOT_DISCORD_SHARD_COUNT": "2",
                # The lease: a SIGKILLed worker's jobs come back after 20 s (heartbeats every 5 s).
                # Far shorter leases make a starved-but-alive worker lose its jobs to another.
                "EDITBOT_JOB_STALE_AFTER": "20",
                "EDITBOT_USER_QUOTA": "1000",
                "EDITBOT_COMMUNITY_QUOTA": "1000000",
                "EDITBOT_LOG_LEVEL": "WARNING",
                "EDITBOT_API_TIMEOUT": "60",
            }
            guilds = [dc.add_guild(f"Guild {i}") for i in range(6)]
            balancer = None
            watcher = None
            try:
                ports = [free_port() for _ in range(2)]
                from tests.e2e.scale_cluster import RoundRobin

                balancer = await RoundRobin([f"http://127.0.0.1:{p}/telegram-hook" for p in ports]).start()
                for shard, port in enumerate(ports):
                    await cluster.start(
                        "gateway",
                        telegram_webhook_url=balancer.url,
                        telegram_webhook_listen="127.0.0.1",
                        telegram_webhook_port=str(port),
                        discord_shard_ids=str(shard),
                        log_level="INFO",
                    )
                workers = [
                    await cluster.start("worker", worker_concurrency=str(args.concurrency), log_level="INFO")
                    for _ in range(2)
                ]
                chats: dict[int, str] = {}
                hits: dict[str, FakeInteraction] = {}
                watcher = asyncio.create_task(_watch(run, tg, dc, chats, hits))
                photo = sample_png(64, 64)
                started = time.perf_counter()
                ticks = int(args.seconds * 10)
                carry_t = carry_d = 0.0
                killed = False
                for tick in range(ticks):
                    if kill and not killed and tick >= ticks // 2:
                        await cluster.kill(workers[0])
                        workers.append(
                            await cluster.start(
                                "worker", worker_concurrency=str(args.concurrency), log_level="INFO"
                            )
                        )
                        killed = True
                    carry_t += args.telegram / 10
                    carry_d += args.discord / 10
                    while carry_t >= 1:
                        carry_t -= 1
                        user = tg.user()
                        chat: FakeChat = tg.private_chat(user)
                        key = f"tg:{user.id}"
                        chats[chat.id] = key
                        run.sent[key] = time.perf_counter()
                        tg.send_photo(chat, user, photo, caption="bench")
                    sends = []
                    while carry_d >= 1:
                        carry_d -= 1
                        n = len(hits) + len(sends)
                        member = dc.add_user(f"user{n}")
                        attachment = dc.add_attachment(photo, f"p{n}.png")
                        guild = guilds[n % len(guilds)]
                        run.sent[f"dc:{n}"] = time.perf_counter()
                        sends.append(
                            (
                                f"dc:{n}",
                                dc.slash_command(
                                    "edit", {"image": attachment, "prompt": "bench"}, user=member, guild=guild
                                ),
                            )
                        )
                    for key, hit in zip(
                        [k for k, _ in sends], await asyncio.gather(*(s for _, s in sends)), strict=True
                    ):
                        hits[key] = hit
                    next_tick = started + (tick + 1) / 10
                    await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
                deadline = time.perf_counter() + args.latency * 4 + 90
                while time.perf_counter() < deadline:
                    open_jobs = await cluster.open_jobs()
                    if len(run.done) >= len(run.sent) and not open_jobs:
                        break
                    await asyncio.sleep(0.2)
                rows = await cluster.query("SELECT status, count(*) FROM jobs GROUP BY status")
                run.jobs = {str(s): int(n) for s, n in rows}
                kinds = await cluster.query(
                    "SELECT platform, error_kind, count(*) FROM jobs WHERE error_kind IS NOT NULL "
                    "GROUP BY platform, error_kind"
                )
                run.errors = {f"{p}:{k}": int(n) for p, k, n in kinds}
                run.warnings = [
                    f"[{n}] " + " | ".join(process.lines[i : i + 3])
                    for n, process in enumerate(cluster.processes)
                    for i, line in enumerate(process.lines)
                    if " WARNING " in line or " ERROR " in line
                ]
                charged = await cluster.query(
                    "SELECT COALESCE(SUM(used), 0) FROM usage WHERE scope_kind IN ('user', 'member')"
                )
                billed = await cluster.query(
                    "SELECT COALESCE(SUM(credits), 0) FROM jobs"
                    " WHERE status IN ('succeeded', 'queued', 'running')"
                )
                run.double_charges = int(charged[0][0]) - int(billed[0][0])
            finally:
                if watcher is not None:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
                await cluster.stop_all()
                if balancer is not None:
                    await balancer.stop()
                await engine.dispose()
    return run


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _peak_per_second(times: list[float]) -> float:
    if not times:
        return 0.0
    buckets: dict[int, int] = {}
    for t in times:
        buckets[int(t)] = buckets.get(int(t), 0) + 1
    return float(max(buckets.values()))


def report(name: str, run: Run) -> dict[str, float]:
    """Print one run's figures; return the main ones."""
    feedback = [1000 * (run.first[k] - run.sent[k]) for k in run.sent if k in run.first]
    finished = [run.done[k] for k in run.done]
    span = (max(finished) - min(run.sent.values())) if finished else float("nan")
    per_second = len(finished) / span if finished else 0.0
    dc_done = [run.done[k] for k in run.done if k.startswith("dc:")]
    tg_done = [run.done[k] for k in run.done if k.startswith("tg:")]
    dc_rate = len(dc_done) / span if dc_done else 0.0
    tg_rate = len(tg_done) / span if tg_done else 0.0
    lost = len(run.sent) - len(run.done) - run.jobs.get("failed", 0) - run.jobs.get("cancelled", 0)
    stuck = run.jobs.get("queued", 0) + run.jobs.get("running", 0)
    tg_calls = len(run.telegram_calls) / span if finished else 0.0
    dc_calls = len(run.discord_calls) / span if finished else 0.0
    print(f"\n== {name}")
    print(f"requests sent {len(run.sent)}, results shown {len(run.done)}, jobs {run.jobs}")
    print(f"edits per hour sustained     {per_second * 3600:>10.0f}   ({per_second:.1f}/s)")
    print(f"  through Discord            {dc_rate:>10.1f}/s   (target >= 20/s)")
    print(f"  through Telegram           {tg_rate:>10.1f}/s")
    print(
        f"first feedback p50 / p95     {_pct(feedback, 0.5):>7.0f} / {_pct(feedback, 0.95):.0f} ms"
        " (target p95 < 300)"
    )
    print(
        f"Telegram sending calls/s     {tg_calls:>10.1f}   peak {_peak_per_second(run.telegram_calls):.0f}"
        f" (limit {TELEGRAM_LIMIT:.0f}: {tg_calls / TELEGRAM_LIMIT:.0%} of the budget on average)"
    )
    print(
        f"Discord REST requests/s      {dc_calls:>10.1f}   peak {_peak_per_second(run.discord_calls):.0f}"
        f" (limit {DISCORD_LIMIT:.0f})"
    )
    print(
        f"double charges {run.double_charges}, lost jobs {lost}, stuck jobs {stuck}, "
        f"duplicate results {run.duplicates}; ended without result: {run.errors or 'none'}"
    )
    warnings = [w for w in run.warnings if "PyNaCl" not in w and "davey" not in w]
    for line in warnings[:8]:
        print("  log:", line[:600])
    return {"per_second": per_second, "p95": _pct(feedback, 0.95)}


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    api_proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.edit_api", "--port", str(port),
        "--latency", str(args.latency), "--cache-renders",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        api = RemoteAPI(f"http://127.0.0.1:{port}/v1")
        print(
            f"2 gateways + 2 workers (concurrency {args.concurrency} each) on one PostgreSQL; "
            f"load {args.telegram}/s Telegram + {args.discord}/s Discord for {args.seconds:.0f} s; "
            f"edit API latency {args.latency:.1f} s"
        )
        base = report("baseline: no failure", await one_run(args, api, kill=False))
        killed = await one_run(args, api, kill=True)
        hit = report("one worker SIGKILLed halfway (a replacement starts)", killed)
        print(f"\nthroughput with a killed worker / baseline: {hit['per_second'] / base['per_second']:.2f}")
    finally:
        api_proc.kill()
        await api_proc.wait()


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--telegram", type=float, default=4.0, help="Telegram edits sent per second")
    parser.add_argument("--discord", type=float, default=20.0, help="Discord edits sent per second")
    parser.add_argument("--latency", type=float, default=5.0, help="seconds the edit API takes")
    parser.add_argument("--concurrency", type=int, default=100, help="EDITBOT_WORKER_CONCURRENCY")
    return parser.parse_args()


if __name__ == "__main__":
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    asyncio.run(main(_parse()))
