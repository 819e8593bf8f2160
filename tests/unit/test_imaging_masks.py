"""Masks in each form a chat user can make, aligned with the prepared photo."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from core.catalogue import DALLE2, GPT_IMAGE_1, ModelSpec
from core.errors import MaskMismatch, UnsupportedImage
from core.imaging import Limits, MaskForm, prepare_inputs
from core.imaging.decode import open_source
from core.imaging.layout import Layout, plan
from core.imaging.masks import edit_area
from core.media import PreparedInputs
from tests.unit import imaging_samples as samples

SPECS = [pytest.param(GPT_IMAGE_1, id="gpt-image-1"), pytest.param(DALLE2, id="dall-e-2")]
STROKES = [[(300, 300), (700, 450), (900, 400)], [(1200, 800), (1300, 1000)]]


def _edit_map(result: PreparedInputs) -> Image.Image:
    """The prepared mask as an L map, 255 = edit, after checking the mask contract."""
    assert result.mask is not None
    first = result.images[0]
    mask = Image.open(io.BytesIO(result.mask.data))
    mask.load()
    assert (result.mask.filename, result.mask.content_type) == ("mask.png", "image/png")
    assert mask.format == "PNG" and mask.mode == "RGBA"
    assert mask.size == (first.width, first.height) == (result.mask.width, result.mask.height)
    alpha = mask.getchannel("A")
    assert {value for _count, value in alpha.getcolors() or []} <= {0, 255}  # binary: edit or keep
    return ImageChops.invert(alpha)


def _to_prepared(where: Image.Image, layout: Layout) -> Image.Image:
    """A map in upright photo coordinates moved into the prepared canvas's coordinates."""
    scaled = where.resize(layout.content, Image.Resampling.BILINEAR).point([0] * 128 + [255] * 128)
    canvas = Image.new("L", layout.canvas, 0)
    canvas.paste(scaled, layout.offset)
    return canvas


@pytest.mark.parametrize("spec", SPECS)
def test_painted_copy_recompressed_and_rescaled(spec: ModelSpec) -> None:
    photo = samples.photo(1600, 1200, seed=3)
    painted, where = samples.paint(photo, STROKES, width=24, colour=(230, 30, 30))
    copy = painted.resize((1200, 900), Image.Resampling.BILINEAR)  # the chat app rescaled 0.75x
    result = prepare_inputs([samples.jpeg(photo)], samples.jpeg(copy, quality=80), spec)

    edit = _edit_map(result)
    stroke = _to_prepared(where, plan(spec, (1600, 1200), None))
    assert samples.share(edit, stroke) > 0.99  # the stroke is editable...
    near = stroke.filter(ImageFilter.MaxFilter(31))
    outside = ImageChops.subtract(edit, near)
    assert samples.share(outside) == 0  # ...and nothing far from it is
    assert samples.share(edit) < 3 * samples.share(stroke)


def test_painted_copy_of_a_rotated_photo_lines_up() -> None:
    # The original is stored landscape with Orientation=6; the chat app shows it upright (portrait),
    # so the painted copy arrives portrait without an orientation tag.
    upright = samples.photo(900, 1200, seed=11)
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    painted, where = samples.paint(upright, [[(200, 900), (700, 1000)]], width=30, colour=(20, 240, 240))
    result = prepare_inputs(
        [samples.jpeg(stored, orientation=6)],
        samples.jpeg(painted.resize((675, 900)), quality=75),
        GPT_IMAGE_1,
    )
    edit = _edit_map(result)
    stroke = _to_prepared(where, plan(GPT_IMAGE_1, (900, 1200), None))
    assert samples.share(edit, stroke) > 0.99
    assert samples.share(ImageChops.subtract(edit, stroke.filter(ImageFilter.MaxFilter(31)))) == 0


def test_painted_copy_without_paint_is_refused() -> None:
    photo = samples.photo(800, 600, seed=12)
    with pytest.raises(MaskMismatch) as err:
        prepare_inputs([samples.jpeg(photo)], samples.jpeg(photo.resize((600, 450)), quality=70), GPT_IMAGE_1)
    assert err.value.details["reason"] == "no painted area found"
    assert err.value.details["reason_code"] == "no_painted_area"


def test_a_different_picture_is_refused() -> None:
    first = samples.photo(800, 600, seed=13)
    other = samples.photo(800, 600, seed=14).transpose(Image.Transpose.ROTATE_180)
    with pytest.raises(MaskMismatch) as err:
        prepare_inputs([samples.jpeg(first)], samples.jpeg(other), GPT_IMAGE_1)
    assert err.value.details["reason_code"] == "unrecognised"


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_black_and_white_mask_white_is_edited(spec: ModelSpec, fmt: str) -> None:
    photo = samples.photo(1000, 750, seed=15)
    drawn = Image.new("L", (500, 375), 0)  # drawn at half the photo's size
    ImageDraw.Draw(drawn).ellipse((100, 100, 300, 250), fill=255)
    where = drawn.resize((1000, 750))
    result = prepare_inputs([samples.jpeg(photo)], samples.encode(drawn, fmt), spec)
    edit = _edit_map(result)
    area = _to_prepared(where, plan(spec, (1000, 750), None))
    assert samples.share(edit, area) > 0.98
    assert samples.share(ImageChops.subtract(edit, area.filter(ImageFilter.MaxFilter(5)))) == 0


@pytest.mark.parametrize(("fill", "edited"), [(255, 1.0), (0, 0.0)], ids=["all-white", "all-black"])
def test_black_and_white_mask_covering_everything_or_nothing(fill: int, edited: float) -> None:
    photo = samples.photo(600, 400, seed=16)
    mask = samples.encode(Image.new("L", (600, 400), fill), "PNG")
    result = prepare_inputs([samples.jpeg(photo)], mask, GPT_IMAGE_1)
    assert samples.share(_edit_map(result)) == edited


def test_dalle2_padding_is_never_editable() -> None:
    photo = samples.photo(800, 400, seed=17)
    result = prepare_inputs(
        [samples.jpeg(photo)], samples.encode(Image.new("L", (800, 400), 255), "PNG"), DALLE2
    )
    edit = _edit_map(result)
    assert edit.size == (1024, 1024)
    assert edit.getbbox() == (0, 256, 1024, 768)  # the photo's band only, padding kept


@pytest.mark.parametrize("spec", SPECS)
def test_transparent_mask_is_used_as_is(spec: ModelSpec) -> None:
    photo = samples.photo(1200, 800, seed=18)
    mask = Image.new("RGBA", (600, 400), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (150, 100, 450, 300))
    result = prepare_inputs([samples.jpeg(photo)], samples.encode(mask, "PNG"), spec)
    edit = _edit_map(result)
    where = Image.new("L", (1200, 800), 0)
    where.paste(255, (300, 200, 900, 600))
    area = _to_prepared(where, plan(spec, (1200, 800), None))
    assert samples.share(edit, area) > 0.99
    assert samples.share(ImageChops.subtract(edit, area.filter(ImageFilter.MaxFilter(5)))) == 0


def test_mask_form_is_reported() -> None:
    photo = samples.photo(400, 300, seed=19)
    image = samples.jpeg(photo)
    src = open_source(image, Limits())
    scaled = photo.resize((400, 300))
    transparent = samples.encode(Image.new("RGBA", (400, 300), (0, 0, 0, 0)), "PNG")
    white = samples.encode(Image.new("L", (400, 300), 255), "PNG")
    painted, _ = samples.paint(photo, [[(50, 50), (200, 200)]], width=20, colour=(255, 255, 0))
    forms = [
        edit_area(data, scaled, src.size, Limits()).form
        for data in (transparent, white, samples.jpeg(painted))
    ]
    assert forms == [MaskForm.ALPHA, MaskForm.BLACK_WHITE, MaskForm.PAINTED]


@pytest.mark.parametrize("mask_size", [(1000, 1000), (750, 1000), (800, 500)])
def test_mask_of_another_shape_is_refused(mask_size: tuple[int, int]) -> None:
    photo = samples.jpeg(samples.photo(800, 600, seed=20))
    mask = samples.encode(Image.new("L", mask_size, 255), "PNG")
    with pytest.raises(MaskMismatch) as err:
        prepare_inputs([photo], mask, GPT_IMAGE_1)
    reason = err.value.details["reason"]
    assert f"{mask_size[0]}x{mask_size[1]}" in reason and "800x600" in reason
    assert err.value.details["reason_code"] == "aspect_ratio"


def test_rounding_differences_in_the_shape_are_tolerated() -> None:
    photo = samples.jpeg(samples.photo(1000, 750, seed=21))
    mask = samples.encode(Image.new("L", (333, 251), 255), "PNG")  # 1000x750 scaled by a third, rounded
    result = prepare_inputs([photo], mask, GPT_IMAGE_1)
    assert samples.share(_edit_map(result)) == 1.0


def test_broken_mask_is_reported_like_a_broken_photo() -> None:
    photo = samples.jpeg(samples.photo(200, 100))
    with pytest.raises(UnsupportedImage):
        prepare_inputs([photo], b"not a picture", GPT_IMAGE_1)


sizes = st.tuples(st.integers(16, 700), st.integers(16, 700))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    photo_size=sizes,
    mask_scale=st.floats(0.3, 1.5),
    form=st.sampled_from(["alpha", "black_white"]),
    dalle=st.booleans(),
)
def test_prepared_mask_always_matches_the_first_image(
    photo_size: tuple[int, int], mask_scale: float, form: str, dalle: bool
) -> None:
    spec = DALLE2 if dalle else GPT_IMAGE_1
    w, h = photo_size
    mask_size = (max(8, round(w * mask_scale)), max(8, round(h * mask_scale)))
    if form == "alpha":
        mask = Image.new("RGBA", mask_size, (0, 0, 0, 255))
        mask.paste((0, 0, 0, 0), (0, 0, mask_size[0] // 2, mask_size[1]))
    else:
        mask = Image.new("L", mask_size, 0)
        mask.paste(255, (0, 0, mask_size[0] // 2, mask_size[1]))
    try:
        result = prepare_inputs(
            [samples.encode(samples.photo(w, h, seed=w * h, noise=0), "PNG")],
            samples.encode(mask, "PNG"),
            spec,
        )
    except MaskMismatch as exc:
        # Only tiny masks, where rounding moves the aspect ratio beyond tolerance, may be refused.
        assert exc.details["reason_code"] == "aspect_ratio"
        assert min(mask_size) < 24
        return
    _edit_map(result)  # asserts the dimensions and the binary alpha
