"""Bar charts of edits per day as PNG images, drawn with Pillow in a worker thread.

The chart carries no words, only numbers and dates (``MM-DD``), so it reads the same in every
language and needs no font with CJK glyphs; the caption sent with it is the localized text.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from datetime import date

from PIL import Image, ImageDraw, ImageFont

WIDTH = 960
HEIGHT = 480

_BACKGROUND = (255, 255, 255)
_AXIS = (60, 60, 60)
_GRID = (225, 228, 232)
_BAR = (66, 133, 244)
_TODAY = (234, 67, 53)
_LABEL = (40, 40, 40)


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... at or above ``value`` (the y axis' top)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    anchor: str,
) -> None:
    # Anchors computed by hand: the bitmap fallback font does not support Pillow's ``anchor``.
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    w, h = x1 - x0, y1 - y0
    dx = {"l": 0.0, "m": w / 2, "r": float(w)}[anchor[0]]
    dy = {"a": 0.0, "m": h / 2, "d": float(h)}[anchor[1]]
    draw.text((xy[0] - dx - x0, xy[1] - dy - y0), text, fill=_LABEL, font=font)


def draw_daily_chart(
    days: Sequence[tuple[date, int]], *, width: int = WIDTH, height: int = HEIGHT, today: date | None = None
) -> bytes:
    """A PNG bar chart of ``(day, edits)``, oldest first; ``today``'s bar is highlighted.

    CPU bound: call it through :func:`render_daily_chart` from async code.
    """
    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, tiny = _font(max(10, height // 32)), _font(max(9, height // 40))
    left, right, top, bottom = 64, width - 24, 28, height - 56
    top_value = nice_ceiling(max([count for _, count in days] + [1]))

    # Horizontal grid lines with their values on the y axis.
    ticks = 5 if top_value % 5 == 0 and top_value >= 5 else min(top_value, 4)
    for i in range(ticks + 1):
        value = top_value * i / ticks
        y = bottom - (bottom - top) * i / ticks
        draw.line([(left, y), (right, y)], fill=_GRID, width=1)
        label = f"{value:g}"
        _text(draw, (left - 8, y), label, small, "rm")
    draw.line([(left, top), (left, bottom)], fill=_AXIS, width=2)
    draw.line([(left, bottom), (right, bottom)], fill=_AXIS, width=2)

    if days:
        slot = (right - left) / len(days)
        bar = max(2.0, slot * 0.7)
        every = max(1, round(len(days) / 16))  # at most ~16 date labels
        for i, (day, count) in enumerate(days):
            cx = left + slot * (i + 0.5)
            if count:
                y = bottom - (bottom - top) * count / top_value
                colour = _TODAY if day == today else _BAR
                draw.rectangle([(cx - bar / 2, y), (cx + bar / 2, bottom - 1)], fill=colour)
                _text(draw, (cx, y - 4), str(count), tiny, "md")
            if i % every == 0 or i == len(days) - 1:
                _text(draw, (cx, bottom + 8), f"{day:%m-%d}", small, "ma")

    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


async def render_daily_chart(
    days: Sequence[tuple[date, int]], *, width: int = WIDTH, height: int = HEIGHT, today: date | None = None
) -> bytes:
    """:func:`draw_daily_chart` in a worker thread, so the event loop only waits."""
    return await asyncio.to_thread(draw_daily_chart, days, width=width, height=height, today=today)
