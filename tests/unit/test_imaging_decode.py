"""Decoding safety: formats, limits, damage, orientation and unusual modes."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image, ImageOps

from core.catalogue import DALLE2, GPT_IMAGE_1
from core.errors import ImageTooLarge, UnreadableImage, UnsupportedImage
from core.imaging import Limits, prepare_inputs, probe
from core.imaging.decode import load, normalize, open_source
from tests.unit import imaging_samples as samples


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_probe_reads_format_size_mode() -> None:
    info = probe(samples.encode(Image.new("RGB", (40, 30)), "PNG"))
    assert (info.format, info.width, info.height, info.mode, info.orientation) == ("PNG", 40, 30, "RGB", 1)


@pytest.mark.parametrize(
    ("fmt", "expected"), [("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WEBP"), ("GIF", "GIF")]
)
def test_accepted_formats(fmt: str, expected: str) -> None:
    data = samples.encode(samples.photo(64, 48, seed=1), fmt)
    assert probe(data).format == expected
    assert prepare_inputs([data], None, GPT_IMAGE_1).images[0].width == 64


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is a text file and not a picture",
        b"%PDF-1.7\n" + b"\0" * 100,
        samples.encode(Image.new("RGB", (8, 8)), "BMP"),
        samples.encode(Image.new("RGB", (8, 8)), "TIFF"),
    ],
    ids=["empty", "text", "pdf", "bmp", "tiff"],
)
def test_non_images_and_other_formats_are_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedImage):
        probe(data)
    with pytest.raises(UnsupportedImage):
        prepare_inputs([data], None, GPT_IMAGE_1)


def test_truncated_jpeg_is_unreadable() -> None:
    data = samples.jpeg(samples.photo(400, 300, seed=2))
    with pytest.raises(UnreadableImage):
        prepare_inputs([data[: len(data) // 2]], None, GPT_IMAGE_1)


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_truncated_lossless_and_webp_are_unreadable(fmt: str) -> None:
    data = samples.encode(samples.photo(300, 200, seed=2), fmt)
    with pytest.raises(UnreadableImage):
        prepare_inputs([data[: len(data) // 2]], None, GPT_IMAGE_1)


def test_garbage_after_magic_is_unreadable() -> None:
    with pytest.raises(UnreadableImage):
        probe(b"\x89PNG\r\n\x1a\n" + b"\x13\x37" * 50)


def test_byte_limit_is_checked_before_decoding() -> None:
    data = samples.jpeg(samples.photo(300, 200, seed=3))
    with pytest.raises(ImageTooLarge) as err:
        prepare_inputs([data], None, GPT_IMAGE_1, max_input_bytes=len(data) - 1)
    assert set(err.value.details) >= {"size_mb", "limit_mb"}


@pytest.mark.parametrize(
    ("width", "height"),
    # over our 50 MP only; over Pillow's warning threshold (~89 MP); over Pillow's error threshold
    [(8000, 7000), (10_000, 10_000), (30_000, 30_000)],
)
def test_png_bomb_header_is_refused_without_warnings(width: int, height: int) -> None:
    # pytest turns warnings into errors: a DecompressionBombWarning escaping would fail this test.
    data = samples.png_header_only(width, height)
    with pytest.raises(ImageTooLarge) as err:
        prepare_inputs([data], None, GPT_IMAGE_1)
    assert err.value.details["megapixels"] == round(width * height / 1e6, 1)
    assert {"size_mb", "limit_mb", "limit_megapixels"} <= set(err.value.details)


def test_large_solid_png_is_refused() -> None:
    data = samples.encode(Image.new("L", (8000, 6500), 7), "PNG")  # 52 MP in a few kilobytes
    assert len(data) < 200_000
    with pytest.raises(ImageTooLarge):
        probe(data)


def test_gif_bomb_header_is_refused() -> None:
    screen = struct.pack("<6sHHBBB", b"GIF89a", 16, 16, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, 65_000, 65_000, 0) + b"\x02\x02\x44\x01\x00;"
    with pytest.raises(ImageTooLarge):
        prepare_inputs([screen + frame], None, GPT_IMAGE_1)


def test_webp_bomb_header_is_refused() -> None:
    # A VP8X header claiming a 16384 x 16384 canvas; the chunk payloads never follow.
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (16383).to_bytes(3, "little") * 2
    data = b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x
    with pytest.raises(ImageTooLarge):
        probe(data)


def test_pixel_limit_is_configurable() -> None:
    data = samples.encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageTooLarge):
        probe(data, limits=Limits(max_pixels=9_999))
    assert probe(data, limits=Limits(max_pixels=10_000)).width == 100


def test_exif_orientation_6_is_applied() -> None:
    # Stored landscape: left half red, right half blue. Orientation 6 = rotate 90° clockwise to view,
    # so the upright picture is portrait with red on top.
    stored = Image.new("RGB", (400, 200), (220, 20, 20))
    stored.paste((20, 20, 220), (200, 0, 400, 200))
    data = samples.jpeg(stored, quality=95, orientation=6)
    info = probe(data)
    assert (info.width, info.height, info.orientation) == (200, 400, 6)

    prepared = prepare_inputs([data], None, GPT_IMAGE_1).images[0]
    assert (prepared.width, prepared.height) == (200, 400)
    upright = _open(prepared.data).convert("RGB")
    assert upright.size == (200, 400)
    top, bottom = upright.getpixel((100, 50)), upright.getpixel((100, 350))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 180 and top[2] < 60
    assert bottom[2] > 180 and bottom[0] < 60


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow_exif_transpose(orientation: int) -> None:
    data = samples.jpeg(samples.photo(120, 80, seed=4, noise=0), quality=95, orientation=orientation)
    ours = load(open_source(data, Limits()))
    theirs = ImageOps.exif_transpose(_open(data))
    assert ours.size == theirs.size
    assert ours.tobytes() == theirs.convert("RGB").tobytes()


def test_jpeg_is_drafted_when_much_larger_than_the_target() -> None:
    data = samples.jpeg(samples.photo(4000, 3000, seed=5, noise=0.02), quality=80)
    src = open_source(data, Limits())
    image = load(src, lambda _size: (1000, 750))
    assert image.size == (1000, 750)
    # draft() reconfigured the decoder to a DCT scale: the file object now reports the reduced size.
    assert src.image.size[0] < 4000


def test_palette_with_transparency_keeps_it() -> None:
    image = Image.new("P", (60, 40), 1)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(0, (0, 0, 30, 40))
    data = samples.encode(image, "PNG", transparency=0)
    for spec in (GPT_IMAGE_1, DALLE2):
        prepared = prepare_inputs([data], None, spec).images[0]
        out = _open(prepared.data)
        assert out.mode == "RGBA" and prepared.content_type == "image/png"
        alpha_low, alpha_high = out.getchannel("A").getextrema()
        assert (alpha_low, alpha_high) == (0, 255)


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = samples.encode(Image.new("CMYK", (64, 64), (0, 255, 255, 0)), "JPEG", quality=95)
    prepared = prepare_inputs([data], None, GPT_IMAGE_1).images[0]
    out = _open(prepared.data)
    assert out.mode == "RGB"
    pixel = out.getpixel((32, 32))
    assert isinstance(pixel, tuple) and pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_sixteen_bit_grey_is_scaled_not_clipped(mode: str) -> None:
    wide = Image.new("I", (64, 64), 40_000)
    wide.paste(10_000, (0, 0, 32, 64))  # painted in mode I: Pillow's paste into I;16 mangles values
    image = wide.convert(mode)
    prepared = prepare_inputs([samples.encode(image, "PNG")], None, GPT_IMAGE_1).images[0]
    out = _open(prepared.data).convert("L")
    assert out.getpixel((48, 32)) == pytest.approx(40_000 / 257, abs=2)
    assert out.getpixel((16, 32)) == pytest.approx(10_000 / 257, abs=2)


def test_mode_i_is_scaled_to_eight_bits() -> None:
    out = normalize(Image.new("I", (4, 4), 65_535))
    assert out.mode == "RGB" and out.getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("image", "mode"),
    [
        (Image.new("L", (50, 50), 90), "RGB"),
        (Image.new("LA", (50, 50), (90, 0)), "RGBA"),
        (Image.new("RGBA", (50, 50), (1, 2, 3, 255)), "RGB"),  # opaque alpha is dropped
        (Image.new("RGBA", (50, 50), (1, 2, 3, 128)), "RGBA"),
        (Image.new("1", (50, 50), 1), "RGB"),
    ],
    ids=["L", "LA", "RGBA-opaque", "RGBA", "1"],
)
def test_modes_are_normalised(image: Image.Image, mode: str) -> None:
    prepared = prepare_inputs([samples.encode(image, "PNG")], None, GPT_IMAGE_1).images[0]
    assert _open(prepared.data).mode == mode


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (40, 40), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    data = samples.encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = _open(prepare_inputs([data], None, GPT_IMAGE_1).images[0].data).convert("RGB")
    pixel = out.getpixel((20, 20))
    assert isinstance(pixel, tuple) and pixel[0] > 200 and pixel[2] < 50


def test_png_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    data = samples.encode(samples.photo(300, 100, noise=0), "PNG", exif=exif)
    prepared = prepare_inputs([data], None, GPT_IMAGE_1).images[0]
    assert (prepared.width, prepared.height) == (100, 300)


def test_progressive_jpeg_is_drafted_and_oriented() -> None:
    photo = samples.photo(3200, 2400, seed=9, noise=0.02)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = samples.encode(photo, "JPEG", quality=85, progressive=True, exif=exif)
    prepared = prepare_inputs([data], None, GPT_IMAGE_1).images[0]
    assert (prepared.width, prepared.height) == (1024, 1365)


def test_a_draft_within_most_is_kept_at_its_size_and_upright() -> None:
    # 1600x1200 stored, shown 1200x1600; the DCT halves it to 800x600 (600x800 upright).
    data = samples.jpeg(samples.photo(1600, 1200, seed=3), orientation=6)
    kept = load(open_source(data, Limits()), lambda _: (450, 600), most=lambda upright: upright)
    assert kept.size == (600, 800)
    exact = load(open_source(data, Limits()), lambda _: (450, 600))
    assert exact.size == (450, 600)
    # A decode over most is scaled to the target.
    over = load(open_source(data, Limits()), lambda _: (1050, 1400), most=lambda _: (1125, 1500))
    assert over.size == (1050, 1400)
