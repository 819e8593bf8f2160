"""Request bodies leave in one piece: a multipart upload reaches the wire as one joined body."""

from __future__ import annotations

import httpx

from core.http_transport import WholeBodyTransport


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
