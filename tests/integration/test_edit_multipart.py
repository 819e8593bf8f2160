"""What the client sends: multipart shape per model family, and the checks made before sending."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.editapi import EditClient, EditRequest, make_http_client
from core.errors import (
    ConfigError,
    ImageTooLarge,
    InputError,
    InvalidOption,
    MaskMismatch,
    PromptMissing,
    PromptTooLong,
    TooManyImages,
    UnsupportedImage,
)
from core.media import PreparedImage, PreparedInputs
from tests.fakes.edit_api import FakeEditAPI, mask_png, prepared, sample_png


@pytest.fixture(autouse=True)
def _relay_serves_retired_models(edit_api: FakeEditAPI) -> None:
    """These tests speak gpt-image-1 and dall-e-2, as relays still do; OpenAI's 404 for them is tested
    in test_edit_current_api.py."""
    edit_api.serve_retired = True


@pytest.fixture
async def client(edit_api: FakeEditAPI) -> AsyncIterator[EditClient]:
    async with make_http_client(timeout_s=20.0) as http:
        yield EditClient(http, edit_api.base_url, edit_api.api_key)


def edit(
    images: list[PreparedImage],
    *,
    model: str = "gpt-image-1",
    size: str = "auto",
    mask: PreparedImage | None = None,
    prompt: str = "make it pop",
    n: int = 1,
    quality: str | None = None,
    user: str | None = None,
) -> EditRequest:
    return EditRequest(PreparedInputs(tuple(images), mask, size), prompt, model, n, quality, user)


async def test_gpt_image_single_image_shape(edit_api: FakeEditAPI, client: EditClient) -> None:
    photo = prepared(sample_png(40, 30), "photo.png")
    await client.edit(edit([photo], quality="high", user="eb-abc", size="1536x1024"))
    (got,) = edit_api.requests
    assert [f.name for f in got.files] == ["image"]
    part = got.files[0]
    assert (part.filename, part.content_type, part.size) == ("photo.png", "image/png", (40, 30))
    assert part.data == photo.data
    assert got.fields == {
        "prompt": ["make it pop"],
        "model": ["gpt-image-1"],
        "n": ["1"],
        "size": ["1536x1024"],
        "quality": ["high"],
        "safety_identifier": ["eb-abc"],
    }
    assert got.headers["Authorization"] == f"Bearer {edit_api.api_key}"


async def test_gpt_image_several_images_use_the_array_field(
    edit_api: FakeEditAPI, client: EditClient
) -> None:
    images = [prepared(sample_png(32, 32, seed=k), f"in{k}.png") for k in range(3)]
    images.append(prepared(_jpeg(), "in3.jpg"))
    mask = prepared(mask_png(32, 32, (0, 0, 8, 8)), "mask.png")
    await client.edit(edit(images, mask=mask))
    (got,) = edit_api.requests
    assert [f.name for f in got.files] == ["image[]"] * 4 + ["mask"]
    assert [f.filename for f in got.files] == ["in0.png", "in1.png", "in2.png", "in3.jpg", "mask.png"]
    assert [f.content_type for f in got.files][-2:] == ["image/jpeg", "image/png"]
    assert (
        "response_format" not in got.fields
        and "quality" not in got.fields
        and "safety_identifier" not in got.fields
    )


async def test_dalle2_sends_one_image_and_asks_for_base64(edit_api: FakeEditAPI, client: EditClient) -> None:
    photo = prepared(sample_png(512, 512, "RGBA"))
    await client.edit(edit([photo], model="dall-e-2", size="512x512"))
    (got,) = edit_api.requests
    assert [f.name for f in got.files] == ["image"]
    assert got.value("response_format") == "b64_json"
    assert got.value("size") == "512x512"


async def test_relay_model_names_get_gpt_image_rules(edit_api: FakeEditAPI, client: EditClient) -> None:
    images = [prepared(sample_png(16, 16, seed=k)) for k in range(2)]
    result = await client.edit(edit(images, model="gpt-image-1.5-relay"))
    assert result.model == "gpt-image-1.5-relay"
    assert [f.name for f in edit_api.requests[0].files] == ["image[]", "image[]"]


def _jpeg() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 30)).save(buf, format="JPEG")
    return buf.getvalue()


PHOTO = prepared(sample_png(32, 32))


@pytest.mark.parametrize(
    ("req", "error", "details"),
    [
        (edit([PHOTO], prompt="x" * 32001), PromptTooLong, {"length": 32001, "limit": 32000}),
        (edit([PHOTO], prompt="x" * 1001, model="dall-e-2", size="256x256"), PromptTooLong, {"limit": 1000}),
        (edit([PHOTO], prompt="   "), PromptMissing, {}),
        (edit([PHOTO], n=0), InvalidOption, {"option": "n", "value": 0}),
        (edit([PHOTO], n=11), InvalidOption, {"option": "n", "choices": "1-10"}),
        (
            edit([PHOTO], quality="ultra"),
            InvalidOption,
            {"option": "quality", "choices": "low, medium, high, auto"},
        ),
        (
            edit([PHOTO], model="dall-e-2", size="256x256", quality="high"),
            InvalidOption,
            {"option": "quality"},
        ),
        (edit([PHOTO], size="640x480"), InvalidOption, {"option": "size", "value": "640x480"}),
        (edit([PHOTO], model="dall-e-2", size="auto"), InvalidOption, {"option": "size"}),
        (edit([PHOTO] * 17), TooManyImages, {"limit": 16, "count": 17}),
        (edit([PHOTO] * 2, model="dall-e-2", size="256x256"), TooManyImages, {"limit": 1}),
        (edit([]), InputError, {}),
        (
            edit([PHOTO], mask=prepared(mask_png(16, 16, (0, 0, 4, 4)))),
            MaskMismatch,
            {"reason": "the mask is 16x16 but the photo is 32x32"},
        ),
        (edit([PreparedImage(PHOTO.data, "", "image/png", 32, 32)]), UnsupportedImage, {}),
        (edit([PreparedImage(PHOTO.data, "a.gif", "image/gif", 32, 32)]), UnsupportedImage, {}),
        (
            edit(
                [PreparedImage(PHOTO.data, "a.jpg", "image/jpeg", 32, 32)], model="dall-e-2", size="256x256"
            ),
            UnsupportedImage,
            {},
        ),
        (
            edit(
                [PreparedImage(b"\x89PNG" + bytes(4 * 1024 * 1024), "a.png", "image/png", 32, 32)],
                model="dall-e-2",
                size="256x256",
            ),
            ImageTooLarge,
            {"limit_mb": 4.0},
        ),
    ],
)
async def test_invalid_requests_fail_before_sending(
    edit_api: FakeEditAPI,
    client: EditClient,
    req: EditRequest,
    error: type[Exception],
    details: dict[str, object],
) -> None:
    with pytest.raises(error) as info:
        await client.edit(req)
    assert type(info.value) is error
    assert details.items() <= info.value.details.items()  # type: ignore[attr-defined]
    assert edit_api.requests == []


async def test_prompt_too_long_names_the_model(client: EditClient) -> None:
    with pytest.raises(PromptTooLong) as info:
        await client.edit(edit([PHOTO], prompt="y" * 40000, model="my-relay-model"))
    assert info.value.details == {"length": 40000, "limit": 32000, "model": "my-relay-model"}


async def test_every_option_the_client_accepts_passes_the_fake(
    edit_api: FakeEditAPI, client: EditClient
) -> None:
    """The client's checks and the fake's agree: nothing valid here is refused by the 'real' API."""
    for quality in ("low", "medium", "high", "auto"):
        for size in ("1024x1024", "1536x1024", "1024x1536", "auto"):
            await client.edit(edit([PHOTO], quality=quality, size=size, n=1))
    assert len(edit_api.requests) == 16


async def test_empty_key_is_a_config_error() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigError, match="EDITBOT_API_KEY"):
            EditClient(http, "http://127.0.0.1:9/v1", "")


async def test_a_raw_platform_id_is_never_sent_as_user(edit_api: FakeEditAPI, client: EditClient) -> None:
    with pytest.raises(ValueError, match="pseudonym"):
        await client.edit(edit([PHOTO], user="123456789"))
    assert edit_api.requests == []
