"""A scaled-out deployment in a test: real ``editbot run --role ...`` processes on one PostgreSQL
schema, against the loopback fakes (issue 14).

The processes are the same program an operator runs; the test reads the shared database as an
operator would (:meth:`Cluster.query`) and what users see from the fakes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.crash_drill import Process
from tests.fakes.edit_api import FakeEditAPI
from tests.fakes.telegram_server import FakeTelegram
from tests.polling import eventually


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """Gateways and workers of one deployment, their fakes and their database."""

    fake: FakeTelegram
    api: FakeEditAPI
    tmp: Path
    url: str
    schema: str
    engine: AsyncEngine
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        """A process's environment: the fakes, the shared schema, fast leases, a short grace."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("EDITBOT_")}
        return (
            clean
            | {
                "EDITBOT_API_BASE_URL": self.api.base_url,
                "EDITBOT_API_KEY": self.api.api_key,
                "EDITBOT_DATABASE_URL": self.url,
                "EDITBOT_DATABASE_SCHEMA": self.schema,
                "EDITBOT_TELEGRAM_TOKEN": self.fake.token,
                "EDITBOT_TELEGRAM_API_URL": self.fake.api_url,
                "EDITBOT_TELEGRAM_FILE_URL": self.fake.file_url,
                "EDITBOT_JOB_STALE_AFTER": "1",
                "EDITBOT_SHUTDOWN_GRACE": "1",
                "EDITBOT_QUEUE_POLL_INTERVAL": "0.5",
            }
            | self.env
            | extra
        )

    async def start(self, role: str, **extra: str) -> Process:
        """Start ``editbot run --role role`` and wait until it is ready."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "run",
            "--role",
            role,
            cwd=self.tmp,
            env=self.environment({f"EDITBOT_{k.upper()}": v for k, v in extra.items()}),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        process = Process(proc)
        process.reader = asyncio.create_task(process._read())
        self.processes.append(process)
        ready = f"editbot ready (role {role})"
        try:
            await eventually(lambda: process.said(ready) or proc.returncode is not None, 60)
        except AssertionError:
            raise AssertionError(process.output[-3000:]) from None
        assert proc.returncode is None, process.output[-3000:]
        return process

    async def kill(self, process: Process) -> None:
        """SIGKILL: the process dies wherever it is."""
        process.proc.kill()
        await asyncio.wait_for(process.proc.wait(), 60)
        if process.reader is not None:
            await process.reader

    async def stop_all(self) -> None:
        """SIGTERM whatever still runs; SIGKILL what does not stop within a minute."""
        for process in self.processes:
            if process.proc.returncode is None:
                process.proc.terminate()
        for process in self.processes:
            try:
                await asyncio.wait_for(process.proc.wait(), 60)
            except TimeoutError:
                process.proc.kill()
                await process.proc.wait()
            if process.reader is not None:
                await process.reader

    async def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of a query on the shared schema."""
        async with self.engine.connect() as connection:
            result = await connection.execute(sa.text(sql), params)
            return [tuple(row) for row in result]

    async def open_jobs(self) -> int:
        """Jobs not finished."""
        return len(await self.query("SELECT id FROM jobs WHERE status IN ('queued', 'running')"))
