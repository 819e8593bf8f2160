"""PTB's networking backend on aiohttp (adapters.telegram_bot.aiohttp_request), against a loopback
server: forms and uploads arrive as PTB sends them, a silent server times out as TimedOut, a
closed port fails as NetworkError."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from adapters.telegram_bot.aiohttp_request import AiohttpRequest


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def echo(request: web.Request) -> web.Response:
        if request.content_type == "multipart/form-data":
            parts: dict[str, Any] = {}
            async for part in await request.multipart():
                parts[part.name or ""] = (part.filename, await part.read())  # type: ignore[union-attr]
            seen.append(parts)
        else:
            seen.append(dict(await request.post()))
        return web.json_response({"ok": True, "result": True})

    async def silent(_request: web.Request) -> web.Response:
        await asyncio.sleep(2)  # longer than the read timeout asked
        return web.json_response({})

    app = web.Application(client_max_size=16 * 2**20)
    app.router.add_post("/echo", echo)
    app.router.add_post("/silent", silent)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_forms_and_uploads_arrive_as_ptb_sends_them(server: tuple[str, list[dict[str, Any]]]) -> None:
    base, seen = server
    request = AiohttpRequest()
    await request.initialize()
    try:
        form = RequestData(
            [RequestParameter.from_input("chat_id", 5), RequestParameter.from_input("text", "héllo")]
        )
        status, body = await request.do_request(f"{base}/echo", "POST", form)
        assert (status, body) == (200, b'{"ok": true, "result": true}')
        big = bytes(range(256)) * 8192  # 2 MB: aiohttp takes it only as a stream
        upload = RequestData(
            [
                RequestParameter.from_input("chat_id", 5),
                RequestParameter.from_input("document", InputFile(big, filename="edit.png", attach=True)),
            ]
        )
        status, _ = await request.do_request(f"{base}/echo", "POST", upload)
        assert status == 200
    finally:
        await request.shutdown()
    assert seen[0] == {"chat_id": "5", "text": "héllo"}
    files = {name: value for name, value in seen[1].items() if isinstance(value, tuple) and value[0]}
    assert [(filename, data == big) for filename, data in files.values()] == [("edit.png", True)]
    assert seen[1]["chat_id"] == (None, b"5")


async def test_a_silent_server_times_out_and_a_closed_port_is_a_network_error(
    server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, _ = server
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.do_request(f"{base}/silent", "POST", read_timeout=0.2)
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        with pytest.raises(NetworkError):
            await request.do_request(f"http://127.0.0.1:{closed}/echo", "POST")
    finally:
        await request.shutdown()
