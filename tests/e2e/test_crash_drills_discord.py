"""Crash drills for Discord: ``editbot run`` (Discord only) killed or stopped while the edit API
works, then started again. The job row existed before the interaction was acknowledged, so the
next process retries the cut-off call once and the result replaces the "thinking…" response."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.crash_drill import Process, open_jobs_in
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.edit_api import FakeEditAPI, sample_png
from tests.polling import eventually


@pytest.fixture
async def processes() -> AsyncIterator[list[Process]]:
    """The processes a drill started; whatever still runs is killed afterwards."""
    started: list[Process] = []
    yield started
    for process in started:
        if process.proc.returncode is None:
            process.proc.kill()
            await process.proc.wait()
        if process.reader is not None:
            await process.reader


async def _start(fake: FakeDiscord, api: FakeEditAPI, tmp: Path, started: list[Process]) -> Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDITBOT_")} | {
        "EDITBOT_API_BASE_URL": api.base_url,
        "EDITBOT_API_KEY": api.api_key,
        "EDITBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bot.db'}",
        "EDITBOT_DISCORD_TOKEN": fake.token,
        "EDITBOT_DISCORD_API_URL": fake.api_url,
        "EDITBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
        "EDITBOT_JOB_STALE_AFTER": "1",
        "EDITBOT_SHUTDOWN_GRACE": "1",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "run", cwd=tmp, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    process = Process(proc)
    process.reader = asyncio.create_task(process._read())
    started.append(process)
    await eventually(lambda: process.said("Discord bot running") or proc.returncode is not None, within=60)
    assert proc.returncode is None, process.output[-3000:]
    return process


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "term"])
async def test_discord_edit_cut_off_during_the_api_call(
    fake_discord: FakeDiscord, edit_api: FakeEditAPI, tmp_path: Path, processes: list[Process], how: str
) -> None:
    first = await _start(fake_discord, edit_api, tmp_path, processes)
    edit_api.hang_next()
    photo = fake_discord.add_attachment(sample_png(48, 48), "p.png")
    hit = await fake_discord.slash_command("edit", {"image": photo, "prompt": "after a crash"})
    await eventually(lambda: len(edit_api.requests) == 1, within=30)
    if how == "kill":
        first.proc.kill()
    else:
        first.proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(first.proc.wait(), 60)
    second = await _start(fake_discord, edit_api, tmp_path, processes)

    result = await hit.wait_for_original(lambda m: m.files and not m.deleted, timeout=60)
    await eventually(lambda: open_jobs_in(tmp_path / "bot.db") == 0, within=30)
    second.proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(second.proc.wait(), 60)
    assert result.content == "after a crash" and len(edit_api.requests) == 2  # the one documented retry
    assert not [m for m in hit.followups if "not charged" in m.content or "busy" in m.content.lower()]
    assert "Traceback" not in first.output + second.output
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as db:
        jobs = db.execute("SELECT status, attempts FROM jobs").fetchall()
        used = db.execute("SELECT scope_kind, used FROM usage ORDER BY scope_kind").fetchall()
    assert jobs == [("succeeded", 2)] and used == [("community", 1), ("global", 1), ("member", 1)]
