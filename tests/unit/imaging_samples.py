"""Sample images for the imaging tests, generated in code (deterministic for a given seed).

Nothing binary is committed: photos are gradients + blobs + shapes + sensor-like noise, which
compress and resample like real photos closely enough for the pipeline's decisions.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Sequence

from PIL import Image, ImageDraw

Size = tuple[int, int]


def photo(width: int, height: int, *, seed: int = 0, noise: float = 0.1) -> Image.Image:
    """A photo-like RGB image: smooth gradients, soft blobs, hard-edged shapes and fine noise."""
    rnd = random.Random(seed)
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    cw, ch = max(2, width // 16), max(2, height // 16)
    blue = Image.frombytes("L", (cw, ch), rnd.randbytes(cw * ch)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rnd.randrange(width), rnd.randrange(height)
        side = rnd.randrange(max(2, width // 20), max(3, width // 5))
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        if rnd.random() < 0.5:
            draw.ellipse((x, y, x + side, y + side), fill=colour)
        else:
            draw.rectangle((x, y, x + side, y + side // 2), fill=colour)
    if noise:
        grain = Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))
        image = Image.blend(image, grain, noise)
    return image


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    """``image`` saved in ``fmt`` with Pillow's ``params``."""
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(image: Image.Image, *, quality: int = 90, orientation: int | None = None) -> bytes:
    """``image`` as JPEG, optionally with an EXIF Orientation tag."""
    if orientation is None:
        return encode(image, "JPEG", quality=quality)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", quality=quality, exif=exif)


def paint(
    image: Image.Image, strokes: Sequence[Sequence[Size]], *, width: int, colour: tuple[int, int, int]
) -> tuple[Image.Image, Image.Image]:
    """``image`` with brush ``strokes`` drawn on it, and the strokes alone as an ``L`` map (255 = paint)."""
    painted = image.copy()
    where = Image.new("L", image.size, 0)
    for target, fill in ((ImageDraw.Draw(painted), colour), (ImageDraw.Draw(where), 255)):
        for points in strokes:
            target.line(list(points), fill=fill, width=width, joint="curve")
            r = width // 2
            for x, y in (points[0], points[-1]):  # round caps, like a brush
                target.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    return painted, where


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims ``width`` x ``height`` RGB pixels (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def share(binary: Image.Image, where: Image.Image | None = None) -> float:
    """The share of ``where``'s white pixels (all pixels when None) that are white in ``binary``."""
    if where is None:
        return binary.histogram()[255] / (binary.width * binary.height)
    both = Image.new("L", binary.size, 0)
    both.paste(binary, mask=where)
    return both.histogram()[255] / max(1, where.histogram()[255])
