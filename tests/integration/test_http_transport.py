"""httpx on aiohttp's wire (core.http_transport) against a loopback server: bodies go whole and come
back as sent, and every way a connection can fail raises the error httpx's own transport raises,
since the edit client retries only a request that never reached the server."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from core.http_transport import AiohttpTransport


class Server:
    """A loopback HTTP server whose routes the tests add, plus a raw TCP one for broken answers."""

    def __init__(self) -> None:
        self.app = web.Application(client_max_size=8 * 2**20)
        self.seen: list[tuple[dict[str, str], bytes]] = []
        self.peers: set[tuple[str, int]] = set()
        self.url = ""

    async def echo(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append((dict(request.headers), body))
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername"))
        return web.Response(body=body, headers={"X-Length": str(len(body))})


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(float(request.query.get("s", "0.3")))
        return web.Response(text="late")

    async def zipped(request: web.Request) -> web.StreamResponse:
        return web.Response(body=gzip.compress(b"hello " * 1000), headers={"Content-Encoding": "gzip"})

    async def big(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"x" * (4 * 2**20))

    async def cut(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "1000000"})
        await resp.prepare(request)
        await resp.write(b"x" * 1000)
        assert request.transport is not None
        request.transport.close()  # the rest never comes
        return resp

    s.app.router.add_route("*", "/echo", s.echo)
    s.app.router.add_get("/slow", slow)
    s.app.router.add_get("/zipped", zipped)
    s.app.router.add_get("/big", big)
    s.app.router.add_get("/cut", cut)
    runner = web.AppRunner(s.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    s.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield s
    finally:
        await runner.cleanup()


def client(connections: int = 4, **timeouts: float | None) -> httpx.AsyncClient:
    limits = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": None, **timeouts}
    return httpx.AsyncClient(transport=AiohttpTransport(connections), timeout=httpx.Timeout(**limits))


async def test_a_multipart_upload_goes_whole_and_the_answer_comes_back_as_sent(server: Server) -> None:
    image = bytes(range(256)) * 4096
    async with client() as http:
        answer = await http.post(
            f"{server.url}/echo",
            data={"prompt": "make it blue 蓝色", "model": "gpt-image-2"},
            files=[("image[]", ("photo.png", image, "image/png"))],
            headers={"Authorization": "Bearer k"},
        )
        got = await http.get(f"{server.url}/echo")
    (headers, body), (get_headers, get_body) = server.seen
    assert int(headers["Content-Length"]) == len(body) and "Transfer-Encoding" not in headers
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert headers["Authorization"] == "Bearer k" and headers["User-Agent"].startswith("python-httpx")
    assert 'name="prompt"\r\n\r\nmake it blue 蓝色'.encode() in body and image in body
    assert (
        answer.status_code == 200 and answer.content == body and answer.headers["X-Length"] == str(len(body))
    )
    assert answer.http_version == "HTTP/1.1" and answer.reason_phrase == "OK"
    assert (got.content == b"" == get_body and "Content-Length" not in get_headers) or get_headers[
        "Content-Length"
    ] == "0"


async def test_gzip_is_undone_once_by_httpx_and_a_stream_arrives_in_full(server: Server) -> None:
    async with client() as http:
        assert (await http.get(f"{server.url}/zipped")).text == "hello " * 1000
        async with http.stream("GET", f"{server.url}/big") as response:
            size = sum([len(chunk) async for chunk in response.aiter_bytes()])
    assert size == 4 * 2**20


async def test_connections_are_reused_unless_a_body_was_left_unread(server: Server) -> None:
    async with client() as http:
        for _ in range(3):
            await http.post(f"{server.url}/echo", content=b"one")
        assert len(server.peers) == 1  # kept alive and reused
        async with http.stream("GET", f"{server.url}/big") as response:
            async for _ in response.aiter_bytes():
                break  # a capped read stops early: that connection cannot be reused
        await http.post(f"{server.url}/echo", content=b"two")
    assert [body for _, body in server.seen] == [b"one"] * 3 + [b"two"]


async def test_waiting_for_a_free_connection_is_a_queue_not_a_failure(server: Server) -> None:
    async with client(connections=1, read=5.0, pool=None) as http:
        answers = await asyncio.gather(*(http.get(f"{server.url}/slow?s=0.2") for _ in range(4)))
    assert [a.text for a in answers] == ["late"] * 4


async def test_a_refused_connection_is_a_connect_error(server: Server) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.post(f"http://127.0.0.1:{port}/images/edits", content=b"x")
    assert caught.value.request.url.port == port


async def test_an_answer_slower_than_the_read_timeout_is_a_read_timeout(server: Server) -> None:
    async with client(read=0.1) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{server.url}/slow?s=2")


async def test_a_server_that_hangs_up_without_answering_may_have_got_the_request() -> None:
    """Not a connect error: the edit client must not send a paid edit again."""
    got = asyncio.Event()

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        got.set()
        writer.close()

    tcp = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    try:
        async with client() as http:
            with pytest.raises(httpx.TransportError) as caught:
                await http.post(f"http://127.0.0.1:{port}/images/edits", content=b"paid")
    finally:
        tcp.close()
    assert got.is_set()
    assert isinstance(caught.value, httpx.RemoteProtocolError)
    assert not isinstance(caught.value, httpx.ConnectError | httpx.ConnectTimeout)


async def test_a_body_cut_short_is_a_protocol_error_while_reading(server: Server) -> None:
    async with client() as http, http.stream("GET", f"{server.url}/cut") as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await response.aread()
