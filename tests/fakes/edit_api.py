"""A fake OpenAI-compatible ``POST /v1/images/edits`` on loopback, as strict as the real one.

It checks what the real API checks (auth, multipart shape, per-model image/size/quality/prompt
rules, mask shape) and answers 400/401/404 with OpenAI-shaped error bodies, so a client that
passes here sends requests the real API accepts.

The edit is deterministic: the first image in RGB, colour-inverted (only where the mask is fully
transparent when a mask is sent), resized to the requested size when it is concrete; ``n``
copies. :func:`expected_edit` computes the same picture so tests can compare pixels.

Use the ``edit_api`` fixture, or run it by hand: ``python -m tests.fakes.edit_api --port 8099``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from PIL import Image, ImageChops, ImageOps
from PIL.PngImagePlugin import PngInfo

from core.media import PreparedImage
from tests.fakes.edit_api_rules import (
    DEFAULT_ERRORS,
    MiB,
    ReceivedRequest,
    Reject,
    check,
    error_response,
    read_request,
)

DEFAULT_KEY = "sk-fake-0123456789abcdef"
FLAVOURS = ("b64", "url", "chat_markdown", "chat_plain", "chat_data_url", "chat_parts")


def expected_edit(
    image_bytes: bytes,
    mask_bytes: bytes | None = None,
    size: str | None = None,
    *,
    markup_bytes: bytes | None = None,
) -> Image.Image:
    """The picture the fake returns for this first image, mask (or markup) and ``size`` field (RGB).

    A mask limits the inversion to its fully transparent area; markup limits it to the drawn strokes.
    """
    with Image.open(io.BytesIO(image_bytes)) as img:
        rgb = img.convert("RGB")
    inverted = ImageOps.invert(rgb)
    if mask_bytes is not None:
        with Image.open(io.BytesIO(mask_bytes)) as mask:
            alpha = mask.convert("RGBA").getchannel("A")
        # 255 where the mask is fully transparent: the area the edit may change.
        editable = alpha.point(lambda a: 255 if a == 0 else 0)
        inverted = Image.composite(inverted, rgb, editable)
    elif markup_bytes is not None:
        with Image.open(io.BytesIO(markup_bytes)) as markup:
            alpha = markup.convert("RGBA").getchannel("A")
        inverted = Image.composite(inverted, rgb, alpha.point(lambda a: 255 if a > 0 else 0))
    if size and size != "auto":
        w, h = (int(v) for v in size.split("x"))
        if (w, h) != inverted.size:
            inverted = inverted.resize((w, h), Image.Resampling.BICUBIC)
    return inverted


def sample_png(width: int = 64, height: int = 48, mode: str = "RGB", *, seed: int = 0) -> bytes:
    """A deterministic PNG with a colour pattern, so pixel comparisons mean something."""
    img = Image.new("RGB", (width, height))
    img.putdata(
        [
            ((x * 7 + seed) % 256, (y * 11) % 256, (x + y) * 5 % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return _encode(img.convert(mode), "PNG")


def mask_png(width: int, height: int, box: tuple[int, int, int, int]) -> bytes:
    """An RGBA mask, opaque except the fully transparent ``box`` (left, top, right, bottom)."""
    img = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    img.paste((0, 0, 0, 0), box)
    return _encode(img, "PNG")


def prepared(data: bytes, filename: str | None = None) -> PreparedImage:
    """``data`` as a :class:`~core.media.PreparedImage` (format, size and content type read from it)."""
    with Image.open(io.BytesIO(data)) as img:
        fmt, (w, h) = img.format or "PNG", img.size
    ctype = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}.get(
        fmt, "application/octet-stream"
    )
    return PreparedImage(data, filename or f"image.{fmt.lower()}", ctype, w, h)


def _encode(img: Image.Image, fmt: str, copy: int | None = None, quality: int | None = None) -> bytes:
    buf = io.BytesIO()
    if fmt == "PNG" and copy is not None:
        # Same pixels, different bytes: n results stay n distinct images, as from the real API.
        info = PngInfo()
        info.add_text("copy", str(copy))
        img.save(buf, format=fmt, pnginfo=info)
    elif fmt == "JPEG":
        img.convert("RGB").save(buf, format=fmt, quality=quality or 95)
    elif fmt == "WEBP":
        img.save(buf, format=fmt, quality=quality or 95)
    else:
        img.save(buf, format=fmt)
    return buf.getvalue()


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    """True when two images have the same size and RGB pixels."""
    a, b = a.convert("RGB"), b.convert("RGB")
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


def near_pixels(a: Image.Image, b: Image.Image, tolerance: float = 4.0) -> bool:
    """True when two images have the same size and differ on average by at most ``tolerance`` per
    channel (a JPEG of the same picture)."""
    a, b = a.convert("RGB"), b.convert("RGB")
    if a.size != b.size:
        return False
    histogram = ImageChops.difference(a, b).convert("L").histogram()
    return sum(i * n for i, n in enumerate(histogram)) / (a.width * a.height) <= tolerance


@dataclass
class _Canned:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


class FakeEditAPI:
    """The fake server and its knobs.

    Read: ``base_url`` and ``api_key`` (what a client needs), ``requests`` (every edit POST, refused
    ones included), ``downloads`` (GETs of result links), ``last_usage`` (input, output, total tokens
    of the last edit). Set: ``flavour`` (one of :data:`FLAVOURS`), ``latency`` (seconds before
    answering), ``include_usage``, ``unknown_models`` (answered 404 ``model_not_found``),
    ``serve_retired`` (a relay that still serves gpt-image-1 and dall-e-2; OpenAI answers 404). Queue:
    :meth:`respond_next`, :meth:`fail_next`, :meth:`hang_next` and the ``*_next`` shortcuts, each
    used up by one edit POST, in order.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        unknown_models: frozenset[str] = frozenset({"no-such-model"}),
        serve_retired: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.unknown_models = set(unknown_models)
        self.serve_retired = serve_retired
        self.flavour = "b64"
        self.latency = 0.0
        self.include_usage = True
        self.requests: list[ReceivedRequest] = []
        self.downloads: list[ReceivedRequest] = []
        self.last_usage: tuple[int, int, int] | None = None
        self.in_flight = 0
        self.max_in_flight = 0  # how many edits overlapped at most: concurrency without a stopwatch
        self._host, self._port = host, port
        self._canned: deque[_Canned] = deque()
        self._hangs = 0
        self._release = asyncio.Event()
        self._held: asyncio.Event | None = None
        self._files: dict[str, bytes] = {}
        self.refuse_stream = False  # a relay that answers 400 "Unknown parameter: 'stream'"
        self.stream_as_json = False  # a relay that ignores `stream` and answers plain JSON
        self.stream_interval = 0.0  # seconds between stream events
        # Benchmarks: a stream's partial images come evenly over ``latency`` and its result at its
        # end, as a real model paints (a plain answer still comes after ``latency``).
        self.spread_partials = False
        self.stream_events: list[tuple[float, str]] = []  # (monotonic time, event) as sent
        self._stream_faults: deque[tuple[str, int]] = deque()
        self._runner: web.AppRunner | None = None
        self.cache_renders = False  # benchmarks: equal requests get the image rendered the first time
        self._renders: dict[Any, asyncio.Future[list[bytes]]] = {}
        self._partials: dict[tuple[int, int, int], asyncio.Future[str]] = {}
        self._finals: dict[bytes, str] = {}

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FakeEditAPI:
        """Listen on ``host`` (a random port unless one was given)."""
        self._release = asyncio.Event()
        app = web.Application(client_max_size=64 * MiB)
        app.router.add_post("/v1/images/edits", self._edit)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/big/{nbytes}", self._big)
        app.router.add_get("/redirect/{hops}", self._redirect)
        app.router.add_route("*", "/{tail:.*}", self._no_route)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Release hung requests and close the server."""
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeEditAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        """What EDITBOT_API_BASE_URL should be: ``http://127.0.0.1:PORT/v1``."""
        return self.root_url + "/v1"

    # -- behaviours ------------------------------------------------------------------------
    def respond_next(
        self,
        status: int = 200,
        body: dict[str, Any] | list[Any] | str | bytes | None = None,
        *,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` edit POSTs with this (after recording them, before any check)."""
        if isinstance(body, dict | list):
            raw, ctype = json.dumps(body).encode(), "application/json"
        elif isinstance(body, str):
            raw, ctype = body.encode(), "text/html" if body.lstrip().startswith("<") else "text/plain"
        else:
            raw, ctype = body or b"", "application/octet-stream"
        canned = _Canned(status, raw, content_type or ctype, dict(headers or {}))
        self._canned.extend([canned] * times)

    def fail_next(
        self,
        status: int,
        body: dict[str, Any] | str | bytes | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Fail the next ``times`` edits with ``status``; the default body is OpenAI's error shape."""
        if body is None:
            message, code = DEFAULT_ERRORS.get(status, (f"HTTP {status}", None))
            body = {
                "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
            }
        self.respond_next(status, body, headers=headers, times=times)

    def stream_fault_next(self, kind: str, after: int = 1) -> None:
        """Break the next streamed edit after ``after`` partial images: ``cut`` (drop the connection),
        ``error`` (an output-moderation error event), ``malformed`` (broken event data) or ``stall``
        (stop sending until the server stops)."""
        if kind not in ("cut", "error", "malformed", "stall"):
            raise ValueError(kind)
        self._stream_faults.append((kind, after))

    def hang_next(self, times: int = 1) -> None:
        """Never answer the next ``times`` edits (until the server stops)."""
        self._hangs += times

    def hold(self) -> None:
        """Keep every edit that arrives in flight until :meth:`release_held`.

        Proves overlap without a stopwatch: N edits in flight at once happen only if the bot sent
        them concurrently, however slow the machine is.
        """
        self._held = asyncio.Event()

    def release_held(self) -> None:
        if self._held is not None:
            self._held.set()
            self._held = None

    async def _wait_if_held(self) -> None:
        if self._held is not None:
            await self._held.wait()

    def malformed_next(self) -> None:
        """Answer 200 with broken JSON."""
        self.respond_next(
            200, b'{"created": 1, "data": [{"b64_json": "iVBOR', content_type="application/json"
        )

    def empty_next(self) -> None:
        """Answer 200 with ``"data": []``."""
        self.respond_next(200, {"created": 1, "data": []})

    def non_image_next(self) -> None:
        """Answer 200 with base64 that decodes to text, not an image."""
        fake = base64.b64encode(b"this is certainly not an image").decode()
        self.respond_next(200, {"created": 1, "data": [{"b64_json": fake}]})

    def html_next(self, status: int = 200) -> None:
        """Answer with an HTML error page (as proxies and some relays do)."""
        self.respond_next(status, "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>")

    def urls_next(self, urls: list[str]) -> None:
        """Answer 200 with these result URLs (e.g. ``file:`` or :meth:`big_url` for refusal tests)."""
        self.respond_next(200, {"created": 1, "data": [{"url": u} for u in urls]})

    def file_url(self, data: bytes, suffix: str = ".png") -> str:
        """Serve ``data`` and return its URL."""
        name = secrets.token_hex(8) + suffix
        self._files[name] = data
        return f"{self.root_url}/files/{name}"

    def big_url(self, nbytes: int, *, declare_length: bool = False) -> str:
        """A URL streaming ``nbytes`` of PNG-looking bytes (with or without Content-Length)."""
        return f"{self.root_url}/big/{nbytes}?length={int(declare_length)}"

    def redirect_url(self, target: str, hops: int = 1) -> str:
        """A URL that redirects ``hops`` times and then to ``target``."""
        from urllib.parse import quote

        return f"{self.root_url}/redirect/{hops}?to={quote(target, safe='')}"

    async def _rendered(self, received: ReceivedRequest, plan: dict[str, Any]) -> list[bytes]:
        """The edit's images; with ``cache_renders`` (benchmarks) equal requests render once, even
        when they arrive together (the later ones wait for the first one's render)."""
        if not self.cache_renders:
            return await asyncio.to_thread(_render, received, plan)
        # What the picture depends on (see _render); not, e.g., the end user's safety identifier.
        key = (
            hash(tuple(f.data for f in received.images)),
            received.mask.data if received.mask else None,
            received.markup.data if received.markup else None,
            *(repr(plan.get(k)) for k in _RENDER_PLAN),
        )
        if key not in self._renders:
            self._renders[key] = asyncio.ensure_future(asyncio.to_thread(_render, received, plan))
        return await asyncio.shield(self._renders[key])

    async def _partial_b64(self, final: bytes, index: int, count: int) -> str:
        """A partial image as base64; with ``cache_renders`` made once per final picture."""
        if not self.cache_renders:
            return _b64(await asyncio.to_thread(partial_image, final, index, count))
        key = (hash(final), index, count)
        if key not in self._partials:

            async def encode() -> str:
                return _b64(await asyncio.to_thread(partial_image, final, index, count))

            self._partials[key] = asyncio.ensure_future(encode())
        return await asyncio.shield(self._partials[key])

    def _final_b64(self, final: bytes) -> str:
        """The completed event's image as base64; with ``cache_renders`` encoded once per picture
        (megabytes: the fake's own work, which would otherwise delay the answer a benchmark times)."""
        if not self.cache_renders:
            return _b64(final)
        if final not in self._finals:
            self._finals[final] = _b64(final)
        return self._finals[final]

    # -- handlers --------------------------------------------------------------------------
    async def _edit(self, request: web.Request) -> web.StreamResponse:
        try:
            received = await read_request(request)
        except Reject as rej:
            return rej.response
        self.requests.append(received)
        if self._canned:
            c = self._canned.popleft()
            return web.Response(status=c.status, body=c.body, content_type=c.content_type, headers=c.headers)
        if self._hangs:
            self._hangs -= 1
            await self._release.wait()
            return web.Response(status=503)
        if self.refuse_stream and received.value("stream") is not None:
            return error_response(
                400, "Unknown parameter: 'stream'.", param="stream", code="unknown_parameter"
            )
        try:
            plan = check(received, self.api_key, self.unknown_models, serve_retired=self.serve_retired)
        except Reject as rej:
            return rej.response
        if plan["stream"] and not self.stream_as_json:
            return await self._stream(request, received, plan)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._wait_if_held()
            if self.latency:
                await asyncio.sleep(self.latency)
            images = await self._rendered(received, plan)
        finally:
            self.in_flight -= 1
        return web.json_response(self._answer(received, plan, images))

    async def _stream(
        self, request: web.Request, req: ReceivedRequest, plan: dict[str, Any]
    ) -> web.StreamResponse:
        """Answer as the SDK expects a streamed edit: partial image events, then the completed event."""
        fault, after = self._stream_faults.popleft() if self._stream_faults else (None, 0)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._wait_if_held()
            (final,) = await self._rendered(req, {**plan, "n": 1})
            resp = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await resp.prepare(request)
            common = {
                "background": plan["background"],
                "output_format": plan["output_format"],
                "quality": req.value("quality") or "auto",
                "size": plan["size"],
            }
            spread = self.latency / (plan["partials"] + 1) if self.spread_partials else None
            for index in range(plan["partials"]):
                if fault is not None and index == after:
                    return await self._break_stream(request, resp, fault)
                await asyncio.sleep(self.stream_interval if spread is None else spread)
                partial = await self._partial_b64(final, index, plan["partials"])
                body = {"type": "image_edit.partial_image", "partial_image_index": index, **common}
                await self._event(resp, "image_edit.partial_image", {**body, "b64_json": partial})
            if fault is not None:
                return await self._break_stream(request, resp, fault)
            await asyncio.sleep(self.stream_interval + self.latency if spread is None else spread)
            inp = 10 + len(req.value("prompt") or "") // 4 + 100 * len(req.images)
            self.last_usage = (inp, 200, inp + 200)
            completed = {
                "type": "image_edit.completed",
                **common,
                "created_at": 1_700_000_000 + len(self.requests),
                "b64_json": self._final_b64(final),
                "usage": {
                    "input_tokens": inp,
                    "output_tokens": 200,
                    "total_tokens": inp + 200,
                    "input_tokens_details": {"text_tokens": 10, "image_tokens": inp - 10},
                },
            }
            await self._event(resp, "image_edit.completed", completed)
            await resp.write_eof()
            return resp
        finally:
            self.in_flight -= 1

    async def _event(self, resp: web.StreamResponse, event: str, data: dict[str, Any]) -> None:
        self.stream_events.append((asyncio.get_running_loop().time(), event))
        await resp.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())

    async def _break_stream(
        self, request: web.Request, resp: web.StreamResponse, fault: str
    ) -> web.StreamResponse:
        if fault == "cut":
            if request.transport is not None:
                request.transport.close()
            return resp
        if fault == "error":
            error = {
                "type": "error",
                "error": {
                    "type": "image_generation_user_error",
                    "code": "moderation_blocked",
                    "message": "Your request was rejected by the safety system.",
                    "param": None,
                },
            }
            await self._event(resp, "error", error)
        elif fault == "malformed":
            await resp.write(b'event: image_edit.partial_image\ndata: {"b64_json": "iVBOR\n\n')
        else:  # stall
            await self._release.wait()
        await resp.write_eof()
        return resp

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.downloads.append(ReceivedRequest(request.path_qs, dict(request.headers)))
        if name not in self._files:
            return web.Response(status=404, text="no such file")
        return web.Response(body=self._files[name], content_type="image/png")

    async def _big(self, request: web.Request) -> web.StreamResponse:
        nbytes = int(request.match_info["nbytes"])
        self.downloads.append(ReceivedRequest(request.path_qs, dict(request.headers)))
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        if request.query.get("length") == "1":
            resp.content_length = nbytes
        await resp.prepare(request)
        sent, chunk = 0, b"\x89PNG\r\n\x1a\n" + bytes(64 * 1024 - 8)
        try:
            while sent < nbytes:
                part = chunk[: nbytes - sent]
                await resp.write(part)
                sent += len(part)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client hung up past its cap, as intended
        return resp

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        hops, target = int(request.match_info["hops"]), request.query["to"]
        self.downloads.append(ReceivedRequest(request.path_qs, dict(request.headers)))
        location = target if hops <= 1 else self.redirect_url(target, hops - 1)
        raise web.HTTPFound(location)

    async def _no_route(self, request: web.Request) -> web.StreamResponse:
        return error_response(404, f"Invalid URL ({request.method} {request.path})")

    # -- the rules -------------------------------------------------------------------------
    def _answer(self, req: ReceivedRequest, plan: dict[str, Any], images: list[bytes]) -> dict[str, Any]:
        prompt = req.value("prompt") or ""
        inp = 10 + len(prompt) // 4 + 100 * len(req.images)
        out = 200 * plan["n"]
        self.last_usage = (inp, out, inp + out)
        created = 1_700_000_000 + len(self.requests)
        flavour = self.flavour
        if flavour == "b64" and plan["dalle2"] and plan["format"] == "url":
            flavour = "url"  # dall-e-2 answers with links unless asked for b64_json
        if flavour == "b64":
            data = [{"b64_json": base64.b64encode(i).decode()} for i in images]
            return self._images_body(created, data)
        if flavour == "url":
            return self._images_body(created, [{"url": self.file_url(i)} for i in images])
        if flavour == "chat_markdown":
            urls = [self.file_url(i) for i in images]
            md = "\n\n".join(f"![image {k}]({u})" for k, u in enumerate(urls, 1))
            content: Any = f"Here is your edited image:\n\n{md}\n\n[Download]({urls[0]})"
        elif flavour == "chat_plain":
            content = "Done!\n" + "\n".join(
                f"Image {k}: {self.file_url(i)}." for k, i in enumerate(images, 1)
            )
        elif flavour == "chat_data_url":
            content = "Result: " + " ".join(_data_url(i) for i in images)
        elif flavour == "chat_parts":
            content = [{"type": "text", "text": "Here you go."}]
            content += [{"type": "image_url", "image_url": {"url": _data_url(i)}} for i in images]
        else:
            raise ValueError(f"unknown flavour {flavour!r}; use one of {FLAVOURS}")
        body: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": created,
            "model": plan["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
        }
        if self.include_usage:
            body["usage"] = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out}
        return body

    def _images_body(self, created: int, data: list[dict[str, str]]) -> dict[str, Any]:
        body: dict[str, Any] = {"created": created, "data": data}
        if self.include_usage and self.last_usage is not None:
            inp, out, total = self.last_usage
            body["usage"] = {
                "input_tokens": inp,
                "output_tokens": out,
                "total_tokens": total,
                "input_tokens_details": {"text_tokens": 10, "image_tokens": inp - 10},
            }
        return body


def partial_image(final: bytes, index: int, count: int) -> bytes:
    """The fake's partial image ``index`` of ``count``: the final picture at a coarser resolution
    (a quarter of the detail for the first, sharper for later ones), of the same size and in the
    same format (the real API sends partial images in the ``output_format`` asked for)."""
    with Image.open(io.BytesIO(final)) as img:
        fmt = img.format if img.format in ("JPEG", "WEBP") else "PNG"
        picture = img.convert("RGB")
    factor = 2 ** (count - index + 1)
    small = picture.resize(
        (max(1, picture.width // factor), max(1, picture.height // factor)), Image.Resampling.BOX
    )
    return _encode(small.resize(picture.size, Image.Resampling.NEAREST), fmt)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


_RENDER_PLAN = ("size", "background", "output_format", "compression", "n")
"""The plan's entries :func:`_render` reads."""


def _render(req: ReceivedRequest, plan: dict[str, Any]) -> list[bytes]:
    mask, markup = req.mask, req.markup
    picture = expected_edit(
        req.images[0].data,
        mask.data if mask else None,
        plan["size"],
        markup_bytes=markup.data if markup else None,
    )
    if plan.get("background") == "transparent":
        picture = cut_out(picture)
    fmt = plan.get("output_format", "png").upper()
    quality = plan.get("compression")
    return [_encode(picture, fmt, copy=k, quality=quality) for k in range(1, plan["n"] + 1)]


def cut_out(picture: Image.Image) -> Image.Image:
    """What the fake makes of ``background=transparent``: a transparent frame an eighth of each side wide."""
    w, h = picture.size
    alpha = Image.new("L", picture.size, 0)
    alpha.paste(255, (w // 8, h // 8, w - w // 8, h - h // 8))
    out = picture.convert("RGBA")
    out.putalpha(alpha)
    return out


@pytest.fixture
async def edit_api() -> AsyncIterator[FakeEditAPI]:
    """A started :class:`FakeEditAPI` for one test; stopped afterwards."""
    api = FakeEditAPI()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


async def _serve(args: argparse.Namespace) -> None:
    api = FakeEditAPI(api_key=args.api_key, host=args.host, port=args.port)
    api.flavour = args.flavour
    api.latency = args.latency
    api.cache_renders = args.cache_renders
    async with api:
        print(f"EDITBOT_API_BASE_URL={api.base_url}\nEDITBOT_API_KEY={api.api_key}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    """``python -m tests.fakes.edit_api``: serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--api-key", default=DEFAULT_KEY)
    parser.add_argument("--flavour", choices=FLAVOURS, default="b64")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--cache-renders", action="store_true", help="render equal requests once")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
