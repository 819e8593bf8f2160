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

import aiohttp
import sqlalchemy as sa
from aiohttp import web
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


class RoundRobin:
    """A load balancer on loopback: each webhook POST goes to the next backend in turn.

    ``routes`` records which backend got which update, so tests know where each one went.
    """

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.routes: list[tuple[int, str]] = []
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """The public webhook URL (the same for every process)."""
        return f"http://127.0.0.1:{self.port}/telegram-hook"

    async def start(self) -> RoundRobin:
        """Listen on :attr:`port`."""
        app = web.Application()
        app.router.add_post("/telegram-hook", self._forward)
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        backend = self.backends[len(self.routes) % len(self.backends)]
        update_id = int((await request.json())["update_id"])
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-telegram")}
        try:
            async with self._session.post(
                backend, data=body, headers=headers | {"Content-Type": "application/json"}
            ) as answer:
                status = answer.status
        except aiohttp.ClientError:
            return web.Response(status=502)
        if 200 <= status < 300:
            self.routes.append((update_id, backend))
        return web.Response(status=status)


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

    async def start_webhook_gateways(self, n: int) -> RoundRobin:
        """``n`` gateways in webhook mode behind one round-robin load balancer."""
        ports = [free_port() for _ in range(n)]
        balancer = await RoundRobin([f"http://127.0.0.1:{p}/telegram-hook" for p in ports]).start()
        for port in ports:
            await self.start(
                "gateway",
                telegram_webhook_url=balancer.url,
                telegram_webhook_listen="127.0.0.1",
                telegram_webhook_port=str(port),
            )
        return balancer

    async def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of a query on the shared schema."""
        async with self.engine.connect() as connection:
            result = await connection.execute(sa.text(sql), params)
            return [tuple(row) for row in result]

    async def open_jobs(self) -> int:
        """Jobs not finished."""
        return len(await self.query("SELECT id FROM jobs WHERE status IN ('queued', 'running')"))
