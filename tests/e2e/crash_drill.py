"""Crash drills: ``editbot run`` as a real process against the fakes, cut off at a chosen phase.

A drill starts the process, holds it at one phase of an edit (the fake Bot API or the fake edit
API keeps one call waiting, so the phase is hit by construction, not by timing), then kills it
(SIGKILL) or stops it (SIGTERM, releasing the held call once the process says it is stopping),
starts a second process on the same database and waits until everything has settled. Then
:meth:`Drill.check` asserts what the user and the operator must see whatever the cut:

- each request has exactly one final answer, delivered once (no double photo or file);
- credits used equal results delivered; no job left open; no status message left on screen;
- every stored update was handled; edit-API calls as expected (one, or two for a cut-off call).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI
from tests.fakes.telegram_model import ChatMessage, FakeChat, FakeUser
from tests.fakes.telegram_server import FakeTelegram

STATUS_MARKS = ("⏳", "🖼", "🎨", "🖌", "📤", "⏸", "✅")
"""How the status messages of a job start (core/locales/*/engine.json, progress_*)."""


@dataclass
class Process:
    """One ``editbot run`` process and everything it printed."""

    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def said(self, text: str) -> bool:
        """True once the process logged ``text``."""
        return any(text in line for line in self.lines)

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.lines)


@dataclass
class Drill:
    """The fakes, the database and the processes of one drill."""

    fake: FakeTelegram
    api: FakeEditAPI
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    # A drill's fast takeover and short grace; off for a service run at the operator's defaults.
    fast_takeover: bool = True

    async def __aenter__(self) -> Drill:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_all()

    @property
    def db_path(self) -> Path:
        """The SQLite database the processes share."""
        return self.tmp / "bot.db"

    def environment(self) -> dict[str, str]:
        """``editbot run``'s environment: the fakes, a fast stale time, a short grace period."""
        env = {
            "EDITBOT_API_BASE_URL": self.api.base_url,
            "EDITBOT_API_KEY": self.api.api_key,
            "EDITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{self.db_path}",
            "EDITBOT_TELEGRAM_TOKEN": self.fake.token,
            "EDITBOT_TELEGRAM_API_URL": self.fake.api_url,
            "EDITBOT_TELEGRAM_FILE_URL": self.fake.file_url,
        }
        if self.fast_takeover:
            # A killed process's jobs and updates are taken over after a second (heartbeats every 0.25 s).
            env |= {"EDITBOT_JOB_STALE_AFTER": "1", "EDITBOT_SHUTDOWN_GRACE": "1"}
        return clean_environment() | env | self.env

    async def start(self) -> Process:
        """Start ``editbot run`` and wait until the Telegram bot polls; its output is drained as it runs."""
        process = Process(await editbot_run(self.tmp, self.environment()))
        proc = process.proc
        process.reader = asyncio.create_task(process._read())
        self.processes.append(process)
        await self.fake.wait_for(
            lambda: process.said("Telegram bot running") or proc.returncode is not None,
            60,
            what="editbot run to start",
            context=lambda: process.output[-2000:],
        )
        assert proc.returncode is None, process.output[-3000:]
        return process

    async def kill(self, process: Process) -> None:
        """SIGKILL: the process dies wherever it is."""
        process.proc.kill()
        await self._exited(process)

    async def terminate(self, process: Process, *release: Any) -> None:
        """SIGTERM; once the process is stopping, the held calls (``release``) go on."""
        process.proc.send_signal(signal.SIGTERM)
        await self.fake.wait_for(
            lambda: process.said("stopping") or process.proc.returncode is not None,
            30,
            what="the process to start stopping",
            context=lambda: process.output[-2000:],
        )
        for hold in release:
            hold()
        await self._exited(process)
        assert process.proc.returncode == 0, process.output[-3000:]

    async def _exited(self, process: Process) -> None:
        await asyncio.wait_for(process.proc.wait(), 60)
        if process.reader is not None:
            await process.reader

    async def stop_all(self) -> None:
        """Stop whatever still runs (end of a drill, or a failed one)."""
        for process in self.processes:
            if process.proc.returncode is None:
                process.proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.proc.wait(), 60)
                except TimeoutError:
                    process.proc.kill()
                    await process.proc.wait()
            if process.reader is not None:
                with contextlib.suppress(Exception):
                    await process.reader

    # -- the database, read as an operator would -------------------------------------------

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the shared database (empty before it exists)."""
        if not self.db_path.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)) as db:
            try:
                return db.execute(sql).fetchall()
            except sqlite3.OperationalError as exc:  # tables not there yet
                if "no such table" in str(exc):
                    return []
                raise

    def open_jobs(self) -> int:
        """Jobs neither succeeded, failed nor cancelled."""
        return len(self.query("SELECT id FROM jobs WHERE status IN ('queued', 'running')"))

    def stored_updates(self) -> int:
        """Updates in the inbox (handled or not)."""
        return len(self.query("SELECT update_id FROM inbox"))

    # -- what the user sees ------------------------------------------------------------------

    def bot_messages(self, chat: FakeChat) -> list[ChatMessage]:
        """Every message the bot sent in ``chat``, deleted ones included."""
        return [m for m in self.fake.messages_in(chat, include_deleted=True) if m.from_bot]

    async def settled(self, chat: FakeChat, results: int) -> None:
        """Wait until ``results`` results are shown, no job is open and no status message remains."""

        def done() -> bool:
            shown = [m for m in self.bot_messages(chat) if m.photo is not None and not m.deleted]
            statuses = [m for m in self.bot_messages(chat) if _is_status(m) and not m.deleted]
            unhandled = self.query("SELECT update_id FROM inbox WHERE handled_at IS NULL")
            return len(shown) >= results and not self.open_jobs() and not statuses and not unhandled

        def state() -> str:
            statuses = [m.text for m in self.bot_messages(chat) if _is_status(m) and not m.deleted]
            return (
                f"jobs {self.query('SELECT status, stage, attempts FROM jobs')}, statuses {statuses}, "
                f"inbox {self.query('SELECT update_id, handled_at, worker_id FROM inbox')}\n"
                + self.processes[-1].output[-3000:]
            )

        await self.fake.wait_for(done, 60, what="the drill to settle", context=state)

    def check(
        self, chat: FakeChat, user: FakeUser, *, prompts: list[str], api_calls: int, files: int = 0
    ) -> None:
        """The drill's invariants (see the module docstring); ``files`` full-size files per result."""
        sent = self.bot_messages(chat)
        # A live preview is a photo too, but a status message: it must be gone, not counted as a result.
        photos = [m for m in sent if m.photo is not None and not _is_status(m)]
        documents = [m for m in sent if m.document is not None]
        assert sorted(m.caption or "" for m in photos) == sorted(prompts), "one photo per request, once"
        assert not any(m.deleted for m in photos + documents)
        assert len(documents) == files * len(prompts), "the full-size file, once (when there is one)"
        assert not [m.content for m in sent if _is_status(m) and not m.deleted], "a status message was left"
        errors = [m.content for m in sent if m.photo is None and m.document is None and not _is_status(m)]
        assert not [e for e in errors if e and ("not charged" in e or "busy" in e.lower())], errors
        jobs = self.query("SELECT status, credits FROM jobs")
        assert sorted(s for s, _ in jobs) == ["succeeded"] * len(prompts), jobs
        used = self.query(
            f"SELECT SUM(used) FROM usage WHERE scope_kind = 'user' AND scope_key = 'telegram:{user.id}'"
        )
        assert used[0][0] == sum(c for _, c in jobs) == len(photos), (used, jobs)
        assert not self.query("SELECT update_id FROM inbox WHERE handled_at IS NULL"), "an update was lost"
        assert not self.query("SELECT job_id FROM job_results"), "kept results outlived their jobs"
        assert len(self.api.requests) == api_calls, [r.value("prompt") for r in self.api.requests]


def clean_environment() -> dict[str, str]:
    """This process's environment without any EDITBOT_* setting (a run sees only what a test sets)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("EDITBOT_")}


def discord_environment(fake: FakeDiscord) -> dict[str, str]:
    """The settings that point ``editbot run``'s Discord bot at the fake Discord."""
    return {
        "EDITBOT_DISCORD_TOKEN": fake.token,
        "EDITBOT_DISCORD_API_URL": fake.api_url,
        "EDITBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
    }


async def editbot_run(cwd: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """``editbot run`` as its own process, stdout and stderr in one pipe (read it while it runs: a
    full pipe would block the bot)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "run",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


def open_jobs_in(db_path: Path) -> int:
    """Unfinished jobs in a process's SQLite database (read-only; 0 before it exists)."""
    if not db_path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as db:
        return len(db.execute("SELECT id FROM jobs WHERE status IN ('queued', 'running')").fetchall())


def _is_status(message: ChatMessage) -> bool:
    return (message.text or message.caption or "").startswith(STATUS_MARKS)
