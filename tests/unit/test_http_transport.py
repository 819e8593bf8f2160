"""Request bodies leave in one piece: a multipart upload reaches the wire as one joined body."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.http_transport import ShardedTransport, WholeBodyTransport


async def test_a_multipart_body_is_joined_before_it_is_sent() -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    async with httpx.AsyncClient(transport=WholeBodyTransport(httpx.MockTransport(server))) as client:
        image = bytes(range(256)) * 1024
        answer = await client.post(
            "http://api.test/images/edits",
            data={"prompt": "make it blue", "model": "gpt-image-2"},
            files=[("image[]", ("photo.png", image, "image/png"))],
        )
        await client.get("http://api.test/models")  # a body-less request goes as it is
    assert answer.json() == {"ok": True}
    upload = seen[0]
    assert isinstance(upload.stream, httpx.ByteStream)  # one chunk, not a part at a time
    body = upload.content
    assert int(upload.headers["Content-Length"]) == len(body)
    assert b'name="prompt"\r\n\r\nmake it blue' in body and image in body
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert seen[1].content == b""


class _Body(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"ok"


async def test_each_request_goes_to_the_least_busy_pool_until_its_response_is_closed() -> None:
    pools: list[list[str]] = []

    def pool(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
        assert (limits.max_connections, limits.max_keepalive_connections) == (14, 2)
        seen: list[str] = []
        pools.append(seen)

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            # A body still to read, as over a connection: the request holds its place until closed.
            return httpx.Response(200, stream=_Body())

        return httpx.MockTransport(answer)

    # 40 connections in pools of at most 16: three of 14, keeping 2 idle ones each alive.
    transport = ShardedTransport(40, pool, max_keepalive_connections=5)
    async with httpx.AsyncClient(transport=transport) as client:
        opened = [
            await client.send(client.build_request("GET", f"http://cdn.test/{i}"), stream=True)
            for i in range(5)
        ]
        assert [len(p) for p in pools] == [2, 2, 1] and transport.in_flight == (2, 2, 1)
        await opened[0].aclose()
        await opened[0].aclose()  # closing twice counts once
        assert transport.in_flight == (1, 2, 1)
        await client.get("http://cdn.test/next")  # to the first least busy pool; read and closed at once
        assert pools[0][-1] == "/next" and transport.in_flight == (1, 2, 1)
        for response in opened[1:]:
            await response.aclose()
    assert transport.in_flight == (0, 0, 0)


async def test_a_request_that_fails_frees_its_place() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transport = ShardedTransport(4, lambda limits: httpx.MockTransport(refuse))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://api.test/")
    assert transport.in_flight == (0,)
