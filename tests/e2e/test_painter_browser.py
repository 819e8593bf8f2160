"""The painter in a real browser: a phone drawing the area with touch, a desktop sketching with the mouse.

Each test opens the Mini App as Telegram would (the button's URL plus signed initData in the
fragment), draws three strokes, undoes the last, presses Done, then answers the bot's "Now tell me
what to change there" and checks what the edit API received against what was drawn (IoU >= 0.9).
Screenshots of the page (light theme on the phone, dark on the desktop) go to ``artifacts/``.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw

from tests.e2e.painter_harness import CHROMIUM, CHROMIUM_ARGS, DARK, LIGHT, PainterHarness, needs_chromium
from tests.fakes.edit_api import sample_png

pytestmark = [needs_chromium, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PHOTO = (640, 480)
# Image-pixel polylines; the last one is undone before Done.
STROKES = [
    [(100, 100), (300, 120), (320, 250)],
    [(400, 300), (550, 380)],
    [(60, 400), (220, 430)],
]
PHONE = {
    "viewport": {"width": 390, "height": 780},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


def _expected(strokes: list[list[tuple[int, int]]], width: float) -> Image.Image:
    """The strokes as the page draws them: round caps and joins, ``width`` image pixels wide."""
    img = Image.new("L", PHOTO, 0)
    draw = ImageDraw.Draw(img)
    r = width / 2
    for line in strokes:
        draw.line(line, fill=255, width=round(width))
        for x, y in line:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return img


def _iou(a: Image.Image, b: Image.Image) -> float:
    """Intersection over union of two 0/255 masks of one size."""
    inter = ImageChops.multiply(a, b).histogram()[255]
    union = ImageChops.lighter(a, b).histogram()[255]
    return inter / union


async def _open(
    painter: PainterHarness,
    browser: Any,
    device: dict[str, Any],
    theme: dict[str, str],
    *,
    webapp: bool = False,
) -> Any:
    """Open the Mini App; with ``webapp``, as a client that injects ``Telegram.WebApp`` (a stand-in that
    records calls) instead of leaving the page to read the URL fragment."""
    user = painter.fake.user(first_name="Ann")
    chat = painter.fake.private_chat(user)
    _, url = await painter.photo_with_button(chat, user, sample_png(*PHOTO))
    context = await browser.new_context(**device)
    page = await context.new_page()
    if webapp:
        stand_in = {"initData": painter.init_data(user), "themeParams": theme, "viewportStableHeight": 0}
        await page.add_init_script(
            f"window.__calls = []; window.Telegram = {{WebApp: Object.assign({json.dumps(stand_in)}, {{"
            "ready() { __calls.push('ready'); }, expand() { __calls.push('expand'); },"
            "close() { __calls.push('close'); }, onEvent(name) { __calls.push('on:' + name); } }) };"
        )
    else:
        url = painter.mini_app_url(url, user, theme)
    started = time.perf_counter()
    await page.goto(url)
    await _until(page, "!!(window.painter && window.painter.ready)")
    print(f"painter ready in {time.perf_counter() - started:.2f} s")
    return page, chat, user


async def _until(page: Any, expression: str, within: float = 20) -> None:
    """Poll ``expression`` in the page (evaluated over CDP: the page's CSP forbids eval, rightly)."""
    deadline = time.monotonic() + within
    while not await page.evaluate(expression):
        assert time.monotonic() < deadline, f"{expression} not true within {within} s"
        await page.wait_for_timeout(20)


async def _geometry(page: Any) -> tuple[float, float, float]:
    """Screen position of image pixel (0, 0), and screen pixels per image pixel."""
    box = await page.locator("#view").bounding_box()
    view = await page.evaluate("({...window.painter.view})")
    return box["x"] + view["x"], box["y"] + view["y"], view["scale"]


def _path(line: list[tuple[int, int]], ox: float, oy: float, scale: float) -> list[tuple[float, float]]:
    points = []
    for (x0, y0), (x1, y1) in itertools.pairwise(line):
        points += [
            (ox + (x0 + (x1 - x0) * i / 12) * scale, oy + (y0 + (y1 - y0) * i / 12) * scale)
            for i in range(12)
        ]
    x, y = line[-1]
    return [*points, (ox + x * scale, oy + y * scale)]


async def _touch(page: Any, points: list[tuple[float, float]]) -> None:
    cdp = await page.context.new_cdp_session(page)
    (x, y), rest = points[0], points[1:]
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for x, y in rest:
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def _pinch(page: Any, centre: tuple[float, float], start: float, end: float) -> None:
    cdp = await page.context.new_cdp_session(page)
    cx, cy = centre

    def fingers(d: float) -> list[dict[str, float]]:
        return [{"x": cx - d, "y": cy, "id": 0}, {"x": cx + d, "y": cy, "id": 1}]

    await cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": fingers(start)})
    for i in range(1, 11):
        d = start + (end - start) * i / 10
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": fingers(d)})
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def _mouse(page: Any, points: list[tuple[float, float]]) -> None:
    await page.mouse.move(*points[0])
    await page.mouse.down()
    for x, y in points[1:]:
        await page.mouse.move(x, y)
    await page.mouse.up()


async def _finish(painter: PainterHarness, page: Any, chat: Any, user: Any, shot: str) -> Any:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / shot))
    print(f"screenshot: {ARTIFACTS / shot}")
    await page.locator("#done").click()
    await _until(page, "window.painterResult !== undefined")
    preview = await painter.photo(chat)
    assert preview.caption and "Now tell me what to change there" in preview.caption
    assert max(Image.open(io.BytesIO(preview.photo or b"")).size) <= 320
    sent = painter.fake.send_text(chat, user, "put a red balloon there")
    await painter.photo(chat, after=sent.message_id)
    await painter.idle()
    (request,) = painter.api.requests
    return request


async def test_phone_paints_the_area_with_touch(painter: PainterHarness, browser: Any) -> None:
    page, chat, user = await _open(painter, browser, PHONE, LIGHT)
    assert await page.locator("#mode-sketch").is_visible()  # gpt-image-2.5 takes markup
    await page.locator("#mode-sketch").click()  # a look at Sketch's tools on a phone, then back
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "painter-phone-sketch-tools.png"))
    await page.locator("#mode-area").click()
    ox, oy, scale = await _geometry(page)
    for line in STROKES:
        await _touch(page, _path(line, ox, oy, scale))
    assert await page.evaluate("window.painter.ops.area.length") == 3
    await page.locator("#undo").click()
    # Two fingers apart: zoom in around them, and paint nothing.
    cx, cy = ox + 320 * scale, oy + 240 * scale
    await _pinch(page, (cx, cy), 40, 120)
    zoomed = await page.evaluate("window.painter.view.scale")
    assert zoomed > scale * 2 and await page.evaluate("window.painter.ops.area.length") == 2
    print(f"pinch zoom x{zoomed / scale:.2f}")
    request = await _finish(painter, page, chat, user, "painter-phone-light.png")

    assert request.mask is not None and request.markup is None
    alpha = Image.open(io.BytesIO(request.mask.data)).convert("RGBA").getchannel("A")
    drawn = alpha.point(lambda v: 255 if v < 128 else 0)  # transparent = edit
    want = _expected(STROKES[:2], 36 / scale).resize(drawn.size, Image.Resampling.NEAREST)
    iou = _iou(drawn, want)
    print(f"phone area IoU {iou:.3f} (brush {36 / scale:.1f} image px)")
    assert iou >= 0.9


async def test_desktop_sketches_with_the_mouse_and_keys(painter: PainterHarness, browser: Any) -> None:
    page, chat, user = await _open(painter, browser, DESKTOP, DARK, webapp=True)
    await page.locator("#mode-sketch").click()
    assert await page.locator("#palette").is_visible() and not await page.locator("#invert").is_visible()
    await page.keyboard.press("]")  # brush 36 -> 40 screen px
    ox, oy, scale = await _geometry(page)
    for line in STROKES:
        await _mouse(page, _path(line, ox, oy, scale))
    await page.keyboard.press("Control+z")
    assert await page.evaluate("window.painter.ops.sketch.length") == 2
    request = await _finish(painter, page, chat, user, "painter-desktop-dark.png")
    calls = await page.evaluate("window.__calls")
    assert {"ready", "expand", "on:themeChanged", "on:viewportChanged"} <= set(calls)
    await _until(page, "window.__calls.includes('close')")  # Done returns to the chat

    assert request.markup is not None and request.mask is None
    markup = Image.open(io.BytesIO(request.markup.data)).convert("RGBA")
    drawn = markup.getchannel("A").point(lambda v: 255 if v >= 128 else 0)
    want = _expected(STROKES[:2], 40 / scale).resize(drawn.size, Image.Resampling.NEAREST)
    iou = _iou(drawn, want)
    print(f"desktop sketch IoU {iou:.3f} (brush {40 / scale:.1f} image px)")
    assert iou >= 0.9
    raw = markup.tobytes()
    pixels = [raw[i : i + 4] for i in range(0, len(raw), 4)]
    strokes = [p for p in pixels if p[3] >= 128]
    red = sum(1 for p in strokes if p[0] > 200 and p[1] < 120 and p[2] < 120)
    assert red / len(strokes) > 0.9  # the first palette colour, as drawn
