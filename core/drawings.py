"""Drawings from the painter page: the photo it paints on, checks on what comes back, and a preview.

The page paints on the *canvas photo*: the user's photo upright and scaled to at most
:data:`CANVAS_SIDE` on its long side (phones cannot hold a 12 MP canvas; the pipeline scales a mask
of the same shape to whatever the model gets). A drawing comes back as a PNG exactly that size:

- AREA: the API's own mask form: transparent where painted (= edit), opaque black elsewhere;
- SKETCH: strokes in colour on transparent, read by the pipeline as an overlay (markup on models
  that take it, the area under the strokes on the others).

Invariants: an accepted drawing is a PNG of the canvas size with at least one painted pixel, and the
pipeline's own mask reader (:func:`core.imaging.masks.edit_area`) reads it in the form its mode says,
so what the user sees in the page is what the edit gets. Everything here is CPU work: call it from a
worker thread.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageChops

from core.errors import DrawingRejected, MaskMismatch
from core.imaging import decode, encode
from core.imaging.layout import fit_within
from core.imaging.masks import MaskForm, edit_area
from core.media import PreparedImage

CANVAS_SIDE = 2048
# A drawing is mostly flat colour: even a 2048x2048 scribble compresses far below this.
MAX_DRAWING_BYTES = 6 * 1024 * 1024
PREVIEW_SIDE = 320
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PAINTED = [0] * 128 + [255] * 128  # alpha >= 128: a stroke (sketch); inverted for areas


class DrawingMode(StrEnum):
    """What the user drew: the area to change, or a sketch that shows the model what to do."""

    AREA = "area"
    SKETCH = "sketch"


_EXPECTED_FORM = {DrawingMode.AREA: MaskForm.ALPHA, DrawingMode.SKETCH: MaskForm.OVERLAY}


@dataclass(frozen=True, slots=True)
class Canvas:
    """The photo as the page shows it (JPEG), and its size: the size every drawing must have."""

    photo: PreparedImage

    @property
    def size(self) -> tuple[int, int]:
        """Width and height in pixels."""
        return self.photo.width, self.photo.height


@dataclass(frozen=True, slots=True)
class Drawing:
    """An accepted drawing: its PNG, how many pixels were painted, and a small preview for the chat."""

    png: bytes
    mode: DrawingMode
    width: int
    height: int
    painted: int
    preview: PreparedImage


def canvas_photo(photo: bytes, limits: decode.Limits | None = None) -> Canvas:
    """The photo upright, scaled to fit :data:`CANVAS_SIDE`, as a JPEG for the page."""
    src = decode.open_source(photo, limits or decode.Limits())
    image = decode.load(src, lambda size: fit_within(size, (CANVAS_SIDE, CANVAS_SIDE)))
    return Canvas(encode.jpeg(image.convert("RGB"), quality=88).named("photo"))


def check_drawing(data: bytes, mode: DrawingMode, canvas: Canvas) -> Drawing:
    """Accept ``data`` as a drawing on ``canvas`` or raise :class:`DrawingRejected` with a ``reason``."""
    if len(data) > MAX_DRAWING_BYTES:
        raise DrawingRejected(f"{len(data)} bytes", reason="too_large")
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise DrawingRejected("not a PNG", reason="not_png")
    # The size from the header, before Pillow sees the file: a bomb's size is refused, not decoded.
    size = struct.unpack(">II", data[16:24])
    if size != canvas.size:
        raise DrawingRejected(f"{size} vs {canvas.size}", reason="wrong_size")
    try:
        rgba = Image.open(io.BytesIO(data), formats=["PNG"]).convert("RGBA")
    except (OSError, SyntaxError, ValueError) as exc:
        raise DrawingRejected(str(exc), reason="not_png") from exc
    strokes = rgba.getchannel("A").point(_PAINTED)
    if mode is DrawingMode.AREA:
        # Only the alpha channel carries meaning; the page's colours do not reach the API.
        painted_area = ImageChops.invert(strokes)
        clean = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        clean.putalpha(strokes)
    else:
        painted_area = strokes
        clean = Image.new("RGBA", rgba.size, (0, 0, 0, 0))
        clean.paste(rgba, (0, 0), strokes)
    painted = painted_area.histogram()[255]
    if painted == 0:
        raise DrawingRejected("nothing painted", reason="empty")
    png = encode.png(clean, level=encode.PNG_DEFAULT).data
    photo = Image.open(io.BytesIO(canvas.photo.data)).convert("RGB")
    try:
        form = edit_area(png, photo, photo.size, decode.Limits()).form
    except MaskMismatch as exc:
        raise DrawingRejected(str(exc), reason="unreadable") from exc
    if form is not _EXPECTED_FORM[mode]:
        # E.g. a sketch in grey over most of the photo reads as a cut-out mask: say so instead of
        # editing something else than what the user drew.
        raise DrawingRejected(f"read as {form}", reason="unreadable")
    preview = _preview(photo, clean, painted_area, mode)
    return Drawing(png, mode, rgba.width, rgba.height, painted, preview)


def _preview(photo: Image.Image, clean: Image.Image, area: Image.Image, mode: DrawingMode) -> PreparedImage:
    """The photo small, with what was drawn on it: strokes as drawn, or the area lit and the rest dimmed."""
    size = fit_within(photo.size, (PREVIEW_SIDE, PREVIEW_SIDE))
    small = photo.resize(size, Image.Resampling.BILINEAR)
    if mode is DrawingMode.SKETCH:
        small.paste(clean.resize(size, Image.Resampling.BILINEAR), (0, 0), clean.resize(size).getchannel("A"))
    else:
        dim = Image.blend(small, Image.new("RGB", size, (0, 0, 0)), 0.55)
        lit = Image.blend(small, Image.new("RGB", size, (255, 64, 160)), 0.35)
        small = Image.composite(lit, dim, area.resize(size, Image.Resampling.BILINEAR))
    return encode.jpeg(small, quality=85).named("drawing")
