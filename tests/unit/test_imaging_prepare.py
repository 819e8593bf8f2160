"""prepare_inputs per model family: formats, sizes, padding, limits, several images."""

from __future__ import annotations

import io
import random
from dataclasses import replace

import pytest
from PIL import Image

from core.catalogue import DALLE2, GPT_IMAGE_1, GPT_IMAGE_2, FreeSizes, ModelSpec
from core.errors import InputError, InvalidOption, TooManyImages
from core.imaging import prepare_inputs, prepare_inputs_async
from core.imaging.verbatim import without_metadata
from core.media import PreparedImage
from tests.unit import imaging_samples as samples

MB4 = 4 * 1024 * 1024


def _open(prepared: PreparedImage) -> Image.Image:
    image = Image.open(io.BytesIO(prepared.data))
    image.load()
    assert image.size == (prepared.width, prepared.height)
    return image


def _pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


@pytest.mark.parametrize(("source", "side"), [((640, 480), 1024), ((300, 200), 512), ((200, 250), 256)])
def test_dalle2_gets_a_padded_square_rgba_png(source: tuple[int, int], side: int) -> None:
    data = samples.jpeg(Image.new("RGB", source, (40, 160, 90)), quality=95)
    result = prepare_inputs([data], None, DALLE2)
    (image,) = result.images
    assert (image.filename, image.content_type) == ("image-1.png", "image/png")
    assert len(image.data) < MB4
    assert result.size == f"{side}x{side}" and result.mask is None
    out = _open(image)
    assert out.format == "PNG" and out.mode == "RGBA" and out.size == (side, side)
    # The padding is opaque (transparent would mean "edit here") and continues the edge colour.
    assert out.getchannel("A").getextrema() == (255, 255)
    corner, centre = _pixel(out, (0, 0)), _pixel(out, (side // 2, side // 2))
    for a, b in zip(corner[:3], centre[:3], strict=True):
        assert abs(a - b) <= 4


def test_dalle2_padding_is_placed_around_the_centred_photo() -> None:
    photo = Image.new("RGB", (400, 200), (250, 250, 250))
    photo.paste((0, 0, 0), (0, 0, 400, 4))  # a dark top edge: the padding above takes its colour
    photo.paste((0, 0, 0), (0, 196, 400, 200))
    out = _open(prepare_inputs([samples.encode(photo, "PNG")], None, DALLE2).images[0])
    assert out.size == (512, 512)
    content_height = 256  # 400x200 -> 512x256, offset 128 from the top
    assert _pixel(out, (256, 10))[:3] == _pixel(out, (256, 500))[:3]
    assert _pixel(out, (256, 10))[0] < 60  # dark like the photo's edges
    assert _pixel(out, (256, 128 + content_height // 2))[0] > 240


def test_dalle2_requested_size_sets_the_canvas() -> None:
    data = samples.jpeg(samples.photo(2000, 1000, seed=1))
    result = prepare_inputs([data], None, DALLE2, "256x256")
    assert result.size == "256x256"
    assert (result.images[0].width, result.images[0].height) == (256, 256)


def test_dalle2_keeps_the_photos_own_transparency_as_the_edit_area() -> None:
    photo = Image.new("RGBA", (300, 300), (10, 200, 10, 255))
    photo.paste((0, 0, 0, 0), (100, 100, 200, 200))
    out = _open(prepare_inputs([samples.encode(photo, "PNG")], None, DALLE2).images[0])
    assert out.size == (512, 512)
    alpha = out.getchannel("A")
    assert alpha.getpixel((256, 256)) == 0 and alpha.getpixel((20, 20)) == 255


def test_dalle2_over_the_byte_limit_steps_down_a_size() -> None:
    # Random RGBA cannot be compressed: 1024x1024 would be over 4 MB, so the input drops to 512.
    rnd = random.Random(7)
    noise = Image.frombytes("RGBA", (1024, 1024), rnd.randbytes(1024 * 1024 * 4))
    result = prepare_inputs([samples.encode(noise, "PNG", compress_level=0)], None, DALLE2)
    image = result.images[0]
    assert (image.width, image.height) == (512, 512) and len(image.data) < MB4
    assert result.size == "1024x1024"  # the output size asked for does not change


@pytest.mark.parametrize(
    ("source", "content"),
    [
        ((4000, 3000), (1365, 1024)),
        ((3000, 4000), (1024, 1365)),
        ((2000, 2000), (1024, 1024)),
        ((1200, 1000), (1200, 1000)),  # small enough: never upscaled
        ((6000, 1000), (1536, 256)),
    ],
)
def test_gpt_image_keeps_the_aspect_ratio_and_only_downscales(
    source: tuple[int, int], content: tuple[int, int]
) -> None:
    data = samples.jpeg(samples.photo(*source, seed=2, noise=0.02), quality=85)
    result = prepare_inputs([data], None, GPT_IMAGE_1)
    image = result.images[0]
    assert (image.width, image.height) == content
    assert result.size == "auto"
    assert (image.filename, image.content_type) == ("image-1.jpg", "image/jpeg")
    assert _open(image).format == "JPEG"


def test_gpt_image_lossless_sources_stay_png() -> None:
    data = samples.encode(samples.photo(300, 200, seed=3, noise=0), "PNG")
    image = prepare_inputs([data], None, GPT_IMAGE_1).images[0]
    assert (image.filename, image.content_type, _open(image).mode) == ("image-1.png", "image/png", "RGB")


@pytest.mark.parametrize("size", [None, "auto", "1024x1024", "1536x1024", "1024x1536"])
def test_gpt_image_size_selection(size: str | None) -> None:
    data = samples.jpeg(samples.photo(800, 600, seed=4))
    result = prepare_inputs([data], None, GPT_IMAGE_1, size)
    assert result.size == (size or "auto")
    assert (result.images[0].width, result.images[0].height) == (800, 600)


@pytest.mark.parametrize(
    ("source", "expected"),
    [((1600, 1000), "1536x1024"), ((1000, 1700), "1024x1536"), ((900, 1000), "1024x1024")],
)
def test_without_auto_the_closest_aspect_ratio_is_chosen(source: tuple[int, int], expected: str) -> None:
    no_auto = replace(GPT_IMAGE_1, name="relay-model", sizes=("1024x1024", "1536x1024", "1024x1536"))
    data = samples.jpeg(samples.photo(*source, seed=5))
    assert prepare_inputs([data], None, no_auto).size == expected
    assert prepare_inputs([data], None, no_auto, "auto").size == expected


@pytest.mark.parametrize(("spec", "size"), [(DALLE2, "1536x1024"), (GPT_IMAGE_1, "512x512"), (DALLE2, "big")])
def test_unsupported_size_is_an_invalid_option(spec: ModelSpec, size: str) -> None:
    data = samples.jpeg(samples.photo(100, 100))
    with pytest.raises(InvalidOption) as err:
        prepare_inputs([data], None, spec, size)
    assert err.value.details["option"] == "size" and err.value.details["value"] == size
    assert {"model", "choices"} <= set(err.value.details)


def test_dalle2_treats_auto_as_choose_for_me() -> None:
    data = samples.jpeg(samples.photo(500, 400))
    assert prepare_inputs([data], None, DALLE2, "auto").size == "512x512"


def test_too_many_images() -> None:
    data = samples.jpeg(samples.photo(64, 64))
    with pytest.raises(TooManyImages) as err:
        prepare_inputs([data, data], None, DALLE2)
    assert err.value.details == {"model": "dall-e-2", "limit": 1, "count": 2}
    with pytest.raises(TooManyImages):
        prepare_inputs([data] * 17, None, GPT_IMAGE_1)


def test_no_images_is_an_input_error() -> None:
    with pytest.raises(InputError):
        prepare_inputs([], None, GPT_IMAGE_1)


def test_several_images_each_get_a_name_and_type() -> None:
    jpeg = samples.jpeg(samples.photo(3000, 2000, seed=6))
    png = samples.encode(Image.new("RGBA", (200, 100), (0, 0, 0, 0)), "PNG")
    webp = samples.encode(samples.photo(100, 300, seed=7), "WEBP")
    result = prepare_inputs([jpeg, png, webp], None, GPT_IMAGE_1)
    names = [(i.filename, i.content_type, i.width, i.height) for i in result.images]
    assert names == [
        ("image-1.jpg", "image/jpeg", 1536, 1024),
        ("image-2.png", "image/png", 200, 100),
        ("image-3.jpg", "image/jpeg", 100, 300),
    ]


def test_metadata_is_stripped() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make; stands in for GPS and the rest
    data = samples.encode(samples.photo(200, 100), "JPEG", exif=exif)
    out = _open(prepare_inputs([data], None, GPT_IMAGE_1).images[0])
    assert "exif" not in out.info


async def test_async_variant_gives_the_same_result() -> None:
    data = samples.jpeg(samples.photo(640, 480, seed=8))
    sync = prepare_inputs([data], None, GPT_IMAGE_1)
    assert await prepare_inputs_async([data], None, GPT_IMAGE_1) == sync


def test_a_mask_for_a_model_without_masks_is_an_invalid_option() -> None:
    no_masks = replace(GPT_IMAGE_1, name="no-mask-model", supports_mask=False)
    data = samples.jpeg(samples.photo(64, 64))
    with pytest.raises(InvalidOption) as err:
        prepare_inputs([data], data, no_masks)
    assert err.value.details["option"] == "mask"


# --- which bytes go out: as they came, re-encoded JPEG, or PNG ---------------------------------


def test_an_upright_jpeg_the_model_takes_goes_as_it_came_less_its_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    data = samples.encode(samples.photo(2560, 1920, seed=9, noise=0.02), "JPEG", quality=87, exif=exif)
    result = prepare_inputs([data], None, GPT_IMAGE_2)  # its largest output is 3840 wide
    image = result.images[0]
    assert image.data == without_metadata(data)
    assert b"PhoneMaker" not in image.data
    assert (image.filename, image.content_type, image.width, image.height) == (
        "image-1.jpg",
        "image/jpeg",
        2560,
        1920,
    )
    assert result.size == "1536x1152"  # the result asked for is the same as when it was scaled


def test_a_rotated_jpeg_is_turned_upright_at_the_decoders_cheap_scale() -> None:
    # 3200x2400 stored, shown 2400x3200: the JPEG decoder halves it for free, and 1200x1600 is
    # between what a 1024x1536-ish result needs (1152x1536) and the model's largest output.
    data = samples.jpeg(samples.photo(3200, 2400, seed=10, noise=0.02), quality=85, orientation=6)
    result = prepare_inputs([data], None, GPT_IMAGE_2)
    image = result.images[0]
    assert (image.content_type, image.width, image.height) == ("image/jpeg", 1200, 1600)
    assert result.size == "1152x1536"
    assert _open(image).getexif().get(0x0112) is None  # upright pixels, no orientation left


def test_a_jpeg_over_the_models_largest_output_is_scaled_to_the_plan() -> None:
    small_model = replace(
        GPT_IMAGE_2, name="small-free", free_sizes=FreeSizes(max_edge=1024, max_pixels=1024 * 1024)
    )
    data = samples.jpeg(samples.photo(1600, 1200, seed=11, noise=0.02))
    image = prepare_inputs([data], None, small_model).images[0]
    assert (image.content_type, image.width, image.height) == ("image/jpeg", 1024, 768)


@pytest.mark.parametrize("spec", [GPT_IMAGE_1, GPT_IMAGE_2])
def test_with_a_mask_the_photo_is_scaled_to_the_plan_and_reencoded(spec: ModelSpec) -> None:
    data = samples.jpeg(samples.photo(3200, 2400, seed=12, noise=0.02), quality=85)
    mask = samples.encode(Image.new("RGBA", (320, 240), (0, 0, 0, 0)), "PNG")
    result = prepare_inputs([data], mask, spec)
    image, mask_file = result.images[0], result.mask
    assert mask_file is not None
    assert (image.width, image.height) == (mask_file.width, mask_file.height)
    assert (image.width, image.height) in {(1536, 1152), (1365, 1024)}  # GPT_IMAGE_2 / GPT_IMAGE_1
    assert image.content_type == "image/jpeg" and mask_file.content_type == "image/png"
    assert image.data != without_metadata(data)


def test_preset_models_get_the_plans_size_not_the_original() -> None:
    data = samples.jpeg(samples.photo(2560, 1920, seed=13, noise=0.02))
    image = prepare_inputs([data], None, GPT_IMAGE_1).images[0]
    assert (image.content_type, image.width, image.height) == ("image/jpeg", 1365, 1024)


def test_a_model_that_takes_no_jpeg_gets_png() -> None:
    png_only = replace(GPT_IMAGE_2, name="png-only", input_formats=("PNG",))
    data = samples.jpeg(samples.photo(300, 200, seed=14))
    image = prepare_inputs([data], None, png_only).images[0]
    assert (image.filename, image.content_type) == ("image-1.png", "image/png")


def test_grey_jpegs_are_reencoded_as_rgb() -> None:
    data = samples.jpeg(samples.photo(300, 200, seed=15).convert("L"))
    image = prepare_inputs([data], None, GPT_IMAGE_2).images[0]
    assert image.content_type == "image/jpeg" and _open(image).mode == "RGB"


def test_a_damaged_jpeg_is_not_forwarded() -> None:
    data = samples.jpeg(samples.photo(300, 200, seed=16))
    with pytest.raises(InputError):
        prepare_inputs([data[:-300]], None, GPT_IMAGE_2)
