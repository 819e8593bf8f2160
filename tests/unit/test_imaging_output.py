"""Results on their way to a chat: describe() and fit_for_upload()."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from core.actions import OutputImage
from core.errors import ImageTooLarge, UnsupportedImage
from core.imaging import describe, fit_for_upload
from tests.unit import imaging_samples as samples


def _noise(width: int, height: int, mode: str = "RGB", seed: int = 1) -> Image.Image:
    bands = len(mode)
    return Image.frombytes(mode, (width, height), random.Random(seed).randbytes(width * height * bands))


def _open(out: OutputImage) -> Image.Image:
    image = Image.open(io.BytesIO(out.data))
    image.load()
    assert image.size == (out.width, out.height)
    assert out.filename.endswith({"image/png": ".png", "image/jpeg": ".jpg"}[out.content_type])
    return image


@pytest.mark.parametrize(
    ("fmt", "content_type", "ext"),
    [("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp")],
)
def test_describe(fmt: str, content_type: str, ext: str) -> None:
    data = samples.encode(Image.new("RGB", (30, 20)), fmt)
    assert describe(data) == (30, 20, content_type, ext)
    width, height, ctype, extension = describe(data)  # unpacks like a plain tuple
    assert (width, height, ctype, extension) == (30, 20, content_type, ext)


def test_describe_refuses_non_images() -> None:
    with pytest.raises(UnsupportedImage):
        describe(b"<html>error page</html>")


def test_a_result_that_fits_is_passed_through_untouched() -> None:
    data = samples.encode(samples.photo(300, 200), "PNG")
    out = fit_for_upload(data, 10 * 1024 * 1024)
    assert out.data is data
    assert (out.filename, out.content_type, out.width, out.height) == ("edited.png", "image/png", 300, 200)


@pytest.mark.parametrize(("mode", "fmt"), [("RGB", "JPEG"), ("RGBA", "PNG")])
def test_webp_results_become_jpeg_or_png_with_transparency(mode: str, fmt: str) -> None:
    image = samples.photo(300, 200).convert(mode)
    if mode == "RGBA":
        image.putalpha(128)
    out = fit_for_upload(samples.encode(image, "WEBP"), 10 * 1024 * 1024, name="result")
    assert out.filename == f"result.{fmt.lower().replace('jpeg', 'jpg')}"
    assert _open(out).format == fmt


def test_a_big_noisy_png_shrinks_below_the_limit() -> None:
    data = samples.encode(_noise(1536, 1024), "PNG", compress_level=1)
    limit = 1_000_000
    assert len(data) > 4 * limit
    out = fit_for_upload(data, limit)
    assert len(out.data) <= limit
    image = _open(out)
    assert image.format == "JPEG"
    # Aspect ratio kept (to a pixel), and shrunk no more than needed to reach the limit by much.
    assert abs(out.width / out.height - 1.5) < 0.01
    assert out.width >= 300


def test_jpeg_at_high_quality_comes_before_downscaling() -> None:
    data = samples.encode(samples.photo(1536, 1024, seed=3, noise=0.05), "PNG", compress_level=1)
    limit = len(data) // 3
    out = fit_for_upload(data, limit)
    assert len(out.data) <= limit
    assert (out.width, out.height, out.content_type) == (1536, 1024, "image/jpeg")


def test_transparency_is_flattened_onto_white_for_jpeg() -> None:
    image = _noise(600, 400, "RGBA")
    image.putalpha(0)
    image.paste((10, 10, 10, 255), (0, 0, 300, 400))
    data = samples.encode(image, "PNG")
    out = fit_for_upload(data, 20_000)
    flat = _open(out).convert("RGB")
    scale = out.width / 600
    clear, solid = flat.getpixel((int(500 * scale), int(200 * scale))), flat.getpixel((int(100 * scale), 10))
    assert isinstance(clear, tuple) and isinstance(solid, tuple)
    assert min(clear) >= 235  # transparent -> white
    assert max(solid) <= 40  # the opaque dark half stays dark


def test_side_sum_limit_is_honoured() -> None:
    data = samples.encode(samples.photo(8000, 2500, seed=4, noise=0), "JPEG")
    out = fit_for_upload(data, 10_000_000, max_side_sum=10_000)
    assert out.width + out.height <= 10_000
    assert abs(out.width / out.height - 3.2) < 0.01


def test_orientation_tag_is_baked_in() -> None:
    data = samples.jpeg(samples.photo(300, 200), orientation=6)
    out = fit_for_upload(data, 10_000_000)
    assert (out.width, out.height) == (200, 300)
    assert "exif" not in _open(out).info


def test_impossible_limit_raises() -> None:
    data = samples.encode(_noise(256, 256), "PNG")
    with pytest.raises(ImageTooLarge):
        fit_for_upload(data, 300)
