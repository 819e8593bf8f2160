"""The bot alone in a child process, so a benchmark's figures are the bot's and not its fakes'.

The benchmark process runs the fakes (Bot API or Discord, and the edit API) and plays the users;
:class:`BotProcess` starts ``python -m benchmarks.botproc SETTINGS_JSON`` and talks to it over
stdin/stdout, one command a line, one JSON answer a line:

- ``reset``: zero the counters (statements; CPU time and, with ``--profile``, the profiler start here);
- ``idle``: wait until no edit runs;
- ``stats``: since the last reset, this process's CPU seconds (``cpu``: every thread; ``loop_cpu``: the
  event loop's thread alone), the statements and their kinds; and the peak RSS in MB;
- ``quit``: stop the bot as SIGTERM would; with ``--profile PATH`` the profile is written there first.

The child runs exactly what ``editbot run`` runs (core, bot, job runner), on the settings it is given.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import resource
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa

from bots.bootstrap import open_core
from bots.logs import configure_logging
from bots.settings import load_settings


def log_file(path: Path | None) -> BinaryIO:
    """The child's stderr: ``path`` (appended to) or the null device."""
    return open(path or os.devnull, "ab")


def telegram_settings(fake: Any) -> dict[str, str]:
    """The settings that point a bot at a fake Bot API server (``tests.fakes.telegram_server``)."""
    return {
        "telegram_token": fake.token,
        "telegram_api_url": fake.api_url,
        "telegram_file_url": fake.file_url,
    }


def discord_settings(fake: Any) -> dict[str, str]:
    """The settings that point a bot at a fake Discord (``tests.fakes.discord_server``)."""
    return {
        "discord_token": fake.token,
        "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url,
    }


class BotProcess:
    """The parent's handle on a bot running in a child process."""

    def __init__(
        self, settings: dict[str, Any], *, profile: str | None = None, log: Path | None = None
    ) -> None:
        self.settings = settings
        self.profile = profile
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> BotProcess:
        args = [sys.executable, "-m", "benchmarks.botproc", json.dumps(self.settings)]
        if self.profile:
            args += ["--profile", self.profile]
        with log_file(self.log) as log:
            self.proc = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log
            )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"the bot process did not start: {line!r} (log: {self.log})")
        return self

    async def ask(self, command: str) -> dict[str, Any]:
        """Send one command, return its JSON answer."""
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), 600)
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            try:
                await self.ask("quit")
            except (OSError, ValueError, TimeoutError):
                self.proc.kill()
        await self.proc.wait()


async def serve(values: dict[str, Any], profile_path: str | None) -> None:
    """Run the bot and answer the parent's commands until ``quit``."""
    settings = load_settings(env_file=None, **values)
    configure_logging(settings)  # INFO to stderr, as ``editbot run`` logs
    statements = 0
    kinds: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        nonlocal statements
        kinds[" ".join(sql.split())[:70]] += 1  # --sql lists BEGINs too: transactions cost as well
        # Counted as the statement-budget test counts: transaction control is the driver's business.
        if sql.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            statements += 1

    # The event loop's own CPU time (worker threads' work is in ``stats`` but not in the profile).
    profiler = cProfile.Profile(time.thread_time) if profile_path else None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with AsyncExitStack() as stack:
        core = await stack.enter_async_context(open_core(settings))
        if settings.telegram_token:
            from adapters.telegram_bot.runner import run_telegram

            await stack.enter_async_context(run_telegram(settings, core))
        if settings.discord_token:
            from adapters.discord_bot.runner import run_discord

            await stack.enter_async_context(run_discord(settings, core, guild_ready_timeout=0.05))
        await stack.enter_async_context(core.running())
        sa.event.listen(core.database.sync_engine, "before_cursor_execute", count)
        cpu0, loop0 = time.process_time(), time.thread_time()
        print("ready", flush=True)
        while line := (await reader.readline()).decode().strip():
            answer: dict[str, Any] = {}
            if line == "reset":
                statements, cpu0, loop0 = 0, time.process_time(), time.thread_time()
                kinds.clear()
                if profiler is not None:
                    profiler.enable()
            elif line == "idle":
                await core.runner.wait_idle()
            elif line == "stats":
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                answer = {
                    "cpu": time.process_time() - cpu0,
                    "loop_cpu": time.thread_time() - loop0,
                    "statements": statements,
                    "rss_mb": rss,
                    "sql": dict(kinds.most_common()),
                }
            elif line == "quit":
                if profiler is not None:
                    profiler.disable()
                    assert profile_path is not None
                    profiler.dump_stats(profile_path)
                print(json.dumps(answer), flush=True)
                break
            print(json.dumps(answer), flush=True)


def main() -> None:
    values = json.loads(sys.argv[1])
    profile = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--profile" else None
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    asyncio.run(serve(values, profile))


if __name__ == "__main__":
    main()
