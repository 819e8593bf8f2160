"""Scaled out on one PostgreSQL: 2 gateways + 2 workers (``editbot run --role ...`` processes).

The fake Telegram and Discord and the users run in a process of their own
(:mod:`benchmarks.scale_load`), so their event loop does not compete with this driver's. The fake
Telegram delivers by webhook through a round-robin load balancer over both gateways;
the fake Discord has 2 shards, one per gateway; the fake edit API (its own process) answers after
``--latency`` seconds. Users send edits at ``--telegram`` and ``--discord`` per second for
``--seconds``; then the run drains. Run twice: as is (the baseline), and with one worker SIGKILLed
halfway (a replacement worker starts at once; the dead one's jobs come back when their lease runs
out). Printed per run: edits per hour sustained, time to first feedback (p50/p95), results and
platform calls per second against the platforms' limits, and double charges, lost and stuck jobs
(all must be 0). Loopback only; stops by itself.

    .venv/bin/python -m benchmarks.bench_scale [--seconds 40] [--telegram 4] [--discord 20] [--latency 5]
        [--profile]  (py-spy samples gateway 0 during the baseline run) [--no-kill]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from benchmarks.scale_load import Seen
from core.storage.db import create_engine
from tests.e2e.scale_cluster import Cluster, RoundRobin, free_port
from tests.fakes.edit_api import DEFAULT_KEY
from tests.integration.db_fixtures import DEFAULT_POSTGRES_URL, POSTGRES_ENV, postgres_schema

TELEGRAM_LIMIT = 30.0  # messages a second per bot token
DISCORD_LIMIT = 50.0  # requests a second per bot token


@dataclass
class RemoteAPI:
    """The fake edit API running in its own process."""

    base_url: str
    api_key: str = DEFAULT_KEY


@dataclass
class RemoteTelegram:
    """The fake Telegram of the load process, as the cluster's settings need it."""

    token: str
    api_url: str
    file_url: str


@dataclass
class Run(Seen):
    """What one run measured: what the users saw (the load process's :class:`Seen`), and more."""

    jobs: dict[str, int] = field(default_factory=dict)
    double_charges: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    profile: str = ""
    cpu: list[str] = field(default_factory=list)  # per process: on-CPU and run-queue time under load


class LoadProcess:
    """``benchmarks.scale_load`` in its own process: the fakes and the users (JSON lines)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, args: argparse.Namespace) -> LoadProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.scale_load", "--seconds", str(args.seconds),
            "--telegram", str(args.telegram), "--discord", str(args.discord),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 28,
        )  # fmt: skip
        return cls(proc)

    async def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the load process ended early")
            if line.startswith(b"{"):
                return dict(json.loads(line))

    def tell(self, word: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(word.encode() + b"\n")

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


async def _profile(pid: int, seconds: float, out: Path) -> str:
    """Sample process ``pid`` with py-spy for ``seconds``; the hottest frames, or why not."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        return "py-spy is not installed: no profile"
    proc = await asyncio.create_subprocess_exec(
        spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200",
        "--nonblocking", "--format", "raw", "--output", str(out),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await proc.wait()
    try:
        collapsed = await asyncio.to_thread(out.read_text)
    except OSError:
        return "py-spy could not sample the gateway"
    return summarise_profile(collapsed)


def summarise_profile(collapsed: str, top: int = 14) -> str:
    """Where a sampled process spent its time: busy share, and the hottest own and total frames."""
    total = idle = 0
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        leaf = frames[-1] if frames else ""
        if "select (selectors.py" in leaf or (
            "_run_once (asyncio/base_events.py" in leaf and len(frames) < 8
        ):
            idle += n
            continue
        own[leaf] = own.get(leaf, 0) + n
        for frame in set(frames):
            key = frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0] + ")"
            inclusive[key] = inclusive.get(key, 0) + n
    if not total:
        return "no samples"
    lines = [f"samples {total}; event loop waiting in select: {idle / total:.0%} of them"]
    lines.append("  hottest frames (own time):")
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {n / total:5.1%}  {frame[:150]}")
    lines.append("  most time under (inclusive):")
    interesting = [
        (k, n)
        for k, n in inclusive.items()
        if not k.startswith(("<module>", "run ", "_run_once", "run_forever"))
    ]
    for frame, n in sorted(interesting, key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {n / total:5.1%}  {frame[:150]}")
    return "\n".join(lines)


def sched(pid: int) -> tuple[float, float]:
    """Seconds process ``pid``'s threads ran on a CPU, and waited runnable for one (run queue)."""
    ran = waited = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            on_cpu, queued, _ = (task / "schedstat").read_text().split()
            ran += int(on_cpu) / 1e9
            waited += int(queued) / 1e9
    return ran, waited


def cpu_report(
    names: dict[str, int], before: dict[str, tuple[float, float]], seconds: float, sent: int
) -> list[str]:
    """Each process's CPU use over the load: share of one core, CPU ms per request, run-queue wait."""
    lines = [f"machine: {os.cpu_count()} CPUs, load average {Path('/proc/loadavg').read_text().split()[0]}"]
    for name, pid in names.items():
        with contextlib.suppress(OSError):
            ran, waited = sched(pid)
            ran -= before[name][0]
            waited -= before[name][1]
            lines.append(
                f"{name:<10} on CPU {ran / seconds:5.0%} of a core, "
                f"{1000 * ran / max(1, sent):6.1f} ms CPU per request; "
                f"waited for a CPU {waited / seconds:5.0%} of the time"
            )
    return lines


async def one_run(args: argparse.Namespace, api: RemoteAPI, kill: bool) -> Run:
    """Start the deployment, load it, (maybe) kill a worker, drain, and read the database."""
    url = os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL
    run = Run()
    load = await LoadProcess.start(args)
    with tempfile.TemporaryDirectory() as tmp:
        async with postgres_schema(url) as schema:
            fakes = await load.read()
            tg, dc = fakes["telegram"], fakes["discord"]
            engine = create_engine(url, schema=schema)
            cluster = Cluster(RemoteTelegram(**tg), api, Path(tmp), url, schema, engine)  # type: ignore[arg-type]
            cluster.env |= {
                "EDITBOT_DISCORD_TOKEN": dc["token"],
                "EDITBOT_DISCORD_API_URL": dc["api_url"],
                "EDITBOT_DISCORD_GATEWAY_URL": dc["gateway_url"],
                "EDITBOT_DISCORD_SHARD_COUNT": "2",
                # The lease: a SIGKILLed worker's jobs come back after 20 s (heartbeats every 5 s).
                # Far shorter leases make a starved-but-alive worker lose its jobs to another.
                "EDITBOT_JOB_STALE_AFTER": "20",
                "EDITBOT_USER_QUOTA": "1000",
                "EDITBOT_COMMUNITY_QUOTA": "1000000",
                "EDITBOT_LOG_LEVEL": "WARNING",
                "EDITBOT_API_TIMEOUT": "60",
            }
            balancer = None
            try:
                ports = [free_port() for _ in range(2)]
                balancer = await RoundRobin([f"http://127.0.0.1:{p}/telegram-hook" for p in ports]).start()
                gateways = []
                for shard, port in enumerate(ports):
                    gateways.append(
                        await cluster.start(
                            "gateway",
                            telegram_webhook_url=balancer.url,
                            telegram_webhook_listen="127.0.0.1",
                            telegram_webhook_port=str(port),
                            discord_shard_ids=str(shard),
                            log_level="INFO",
                        )
                    )
                workers = [
                    await cluster.start("worker", worker_concurrency=str(args.concurrency), log_level="INFO")
                    for _ in range(2)
                ]
                names = {f"gateway {i}": p.proc.pid for i, p in enumerate(gateways)}
                names |= {f"worker {i}": p.proc.pid for i, p in enumerate(workers)}
                names["load+fakes"] = load.proc.pid
                before = {name: sched(pid) for name, pid in names.items()}
                load.tell("go")
                load_started = time.perf_counter()
                profiling = None
                if args.profile and not kill:
                    out = Path(args.profile_out)
                    profiling = asyncio.create_task(_profile(gateways[0].proc.pid, args.seconds * 0.8, out))
                if kill:
                    await asyncio.sleep(args.seconds / 2)
                    await cluster.kill(workers[0])
                    workers.append(
                        await cluster.start(
                            "worker", worker_concurrency=str(args.concurrency), log_level="INFO"
                        )
                    )
                sent = int((await load.read())["sent"])
                run.cpu = cpu_report(names, before, time.perf_counter() - load_started, sent)
                deadline = time.perf_counter() + args.latency * 4 + 90
                while time.perf_counter() < deadline:
                    total = await cluster.query("SELECT count(*) FROM jobs")
                    if int(total[0][0]) >= sent and not await cluster.open_jobs():
                        break
                    await asyncio.sleep(0.2)
                load.tell("stop")
                seen = (await load.read())["seen"]
                for name in (f.name for f in fields(Seen)):
                    setattr(run, name, seen[name])
                if profiling is not None:
                    run.profile = await profiling
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
                await cluster.stop_all()
                if balancer is not None:
                    await balancer.stop()
                await engine.dispose()
                await load.close()
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


def _rate(finished: list[float]) -> float:
    """Results a second, from one platform's first result to its last (its own pace)."""
    if len(finished) < 2:
        return 0.0
    return len(finished) / (max(finished) - min(finished))


def report(name: str, run: Run) -> dict[str, float]:
    """Print one run's figures; return the main ones."""
    feedback = [1000 * (run.first[k] - run.sent[k]) for k in run.sent if k in run.first]
    finished = [run.done[k] for k in run.done]
    # The rate results come out at, first to last: counting from the first request instead had
    # charged one API latency of pipeline filling to the rate (20/s kept up with showed 16/s).
    span = (max(finished) - min(finished)) if len(finished) > 1 else float("nan")
    per_second = len(finished) / span if finished else 0.0
    dc_rate = _rate([run.done[k] for k in run.done if k.startswith("dc:")])
    tg_rate = _rate([run.done[k] for k in run.done if k.startswith("tg:")])
    by_platform = {
        p: [1000 * (run.first[k] - run.sent[k]) for k in run.sent if k in run.first and k.startswith(p)]
        for p in ("dc:", "tg:")
    }
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
    for label, prefix in (("  Discord", "dc:"), ("  Telegram", "tg:")):
        if by_platform[prefix]:
            shown = by_platform[prefix]
            print(f"{label:<29}{_pct(shown, 0.5):>7.0f} / {_pct(shown, 0.95):.0f} ms")
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
    lag = run.loop_lag_ms
    print(f"load process's own event-loop lag p50 / p99   {_pct(lag, 0.5):.1f} / {_pct(lag, 0.99):.1f} ms")
    for line in run.cpu:
        print("  cpu:", line)
    if run.profile:
        print("gateway 0 profile (py-spy, during the load):")
        print(run.profile)
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
        if args.no_kill:
            return
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
    parser.add_argument("--profile", action="store_true", help="sample gateway 0 with py-spy (baseline run)")
    parser.add_argument("--no-kill", action="store_true", help="only the baseline run")
    parser.add_argument(
        "--profile-out",
        default=str(Path(tempfile.gettempdir()) / "bench_scale_gateway.txt"),
        help="where py-spy's collapsed stacks go",
    )
    return parser.parse_args()


if __name__ == "__main__":
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    asyncio.run(main(_parse()))
