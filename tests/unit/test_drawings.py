"""Drawings from the painter: what is accepted, how it reads in the pipeline, and the preview."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from core.drawings import CANVAS_SIDE, Canvas, DrawingMode, canvas_photo, check_drawing
from core.errors import DrawingRejected
from core.imaging import decode
from core.imaging.masks import MaskForm, edit_area
from tests.fakes.edit_api import sample_png


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def canvas() -> Canvas:
    return canvas_photo(sample_png(200, 150))


def _reason(data: bytes, mode: DrawingMode, canvas: Canvas) -> str:
    with pytest.raises(DrawingRejected) as caught:
        check_drawing(data, mode, canvas)
    return str(caught.value.details["reason"])


def test_canvas_is_the_photo_upright_and_at_most_canvas_side() -> None:
    assert canvas_photo(sample_png(200, 150)).size == (200, 150)
    big = canvas_photo(sample_png(4096, 1024))
    assert big.size == (CANVAS_SIDE, 512) and big.photo.content_type == "image/jpeg"


def test_area_drawing_becomes_the_alpha_form_and_a_lit_preview(canvas: Canvas) -> None:
    img = Image.new("RGBA", canvas.size, (0, 0, 0, 255))
    img.paste((255, 255, 255, 0), (50, 40, 120, 100))  # the page's colours do not matter
    drawing = check_drawing(_png(img), DrawingMode.AREA, canvas)
    assert drawing.painted == 70 * 60 and (drawing.width, drawing.height) == canvas.size
    clean = Image.open(io.BytesIO(drawing.png))
    assert clean.getpixel((60, 50)) == (0, 0, 0, 0) and clean.getpixel((5, 5)) == (0, 0, 0, 255)
    photo = Image.open(io.BytesIO(canvas.photo.data)).convert("RGB")
    assert edit_area(drawing.png, photo, photo.size, decode.Limits()).form is MaskForm.ALPHA
    assert max(drawing.preview.width, drawing.preview.height) <= 320


def test_sketch_reads_as_an_overlay_and_grey_scribbles_over_everything_are_refused(canvas: Canvas) -> None:
    img = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    ImageDraw.Draw(img).line([(20, 20), (180, 130)], fill=(255, 59, 48, 255), width=12)
    drawing = check_drawing(_png(img), DrawingMode.SKETCH, canvas)
    assert drawing.painted > 1000
    grey = Image.new("RGBA", canvas.size, (128, 128, 128, 255))
    assert _reason(_png(grey), DrawingMode.SKETCH, canvas) == "unreadable"


def test_drawings_that_cannot_be_used_are_refused(canvas: Canvas) -> None:
    empty = Image.new("RGBA", canvas.size, (0, 0, 0, 255))
    assert _reason(_png(empty), DrawingMode.AREA, canvas) == "empty"
    assert _reason(_png(Image.new("RGBA", canvas.size, (0, 0, 0, 0))), DrawingMode.SKETCH, canvas) == "empty"
    assert _reason(_png(Image.new("RGBA", (201, 150))), DrawingMode.AREA, canvas) == "wrong_size"
    jpeg = io.BytesIO()
    Image.new("RGB", canvas.size).save(jpeg, "JPEG")
    assert _reason(jpeg.getvalue(), DrawingMode.AREA, canvas) == "not_png"
    assert _reason(b"\x89PNG\r\n\x1a\n" + b"broken", DrawingMode.AREA, canvas) == "not_png"
    assert _reason(b"\x89PNG\r\n\x1a\n" + bytes(7 * 1024 * 1024), DrawingMode.AREA, canvas) == "too_large"
    # A decompression bomb's header says its size before anything is decoded.
    assert _reason(_png(Image.new("1", (20000, 20000))), DrawingMode.AREA, canvas) == "wrong_size"
