"""The fake edit API is only useful if it refuses what the real one refuses: raw requests against it."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.fakes.edit_api import FakeEditAPI, expected_edit, mask_png, sample_png

PNG = sample_png(32, 32)
RGBA = sample_png(256, 256, "RGBA")


@pytest.fixture(autouse=True)
def _relay_serves_retired_models(edit_api: FakeEditAPI) -> None:
    """These tests speak gpt-image-1 and dall-e-2, as relays still do; OpenAI's 404 for them is tested
    in test_edit_current_api.py."""
    edit_api.serve_retired = True


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=20.0) as client:
        yield client


async def post(
    api: FakeEditAPI,
    http: httpx.AsyncClient,
    fields: dict[str, str],
    files: list[tuple[str, Any]],
    *,
    key: str | None = "default",
) -> httpx.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {api.api_key if key == 'default' else key}"}
    return await http.post(api.base_url + "/images/edits", data=fields, files=files, headers=headers)


def gpt(**extra: str) -> dict[str, str]:
    return {"model": "gpt-image-1", "prompt": "p", **extra}


def error_of(resp: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = resp.json()["error"]
    return body


async def test_a_valid_request_is_edited(edit_api: FakeEditAPI, http: httpx.AsyncClient) -> None:
    resp = await post(edit_api, http, gpt(size="1024x1024"), [("image", ("a.png", PNG, "image/png"))])
    assert resp.status_code == 200
    import base64

    data = base64.b64decode(resp.json()["data"][0]["b64_json"])
    with Image.open(io.BytesIO(data)) as got:
        assert got.size == (1024, 1024)
        assert got.convert("RGB").tobytes() == expected_edit(PNG, None, "1024x1024").tobytes()


@pytest.mark.parametrize(
    ("fields", "files", "status", "fragment"),
    [
        (
            gpt(response_format="b64_json"),
            [("image", ("a.png", PNG, "image/png"))],
            400,
            "Unknown parameter: 'response_format'.",
        ),
        (gpt(), [("image", (None, PNG, "image/png"))], 400, "expected a file"),
        (gpt(), [("image", ("a.png", PNG, "application/octet-stream"))], 400, "unsupported mimetype"),
        (gpt(), [("image", ("a.png", PNG, "image/jpeg"))], 400, "Invalid image file"),
        (gpt(), [("image", ("a.png", b"not an image", "image/png"))], 400, "Invalid image file"),
        (
            gpt(),
            [("mask", ("m.png", mask_png(32, 32, (0, 0, 1, 1)), "image/png"))],
            400,
            "Missing required parameter: 'image'.",
        ),
        (
            {"model": "gpt-image-1"},
            [("image", ("a.png", PNG, "image/png"))],
            400,
            "Missing required parameter: 'prompt'.",
        ),
        (gpt(size="512x512"), [("image", ("a.png", PNG, "image/png"))], 400, "Invalid value: '512x512'"),
        (gpt(quality="standard"), [("image", ("a.png", PNG, "image/png"))], 400, "Invalid value: 'standard'"),
        (gpt(n="11"), [("image", ("a.png", PNG, "image/png"))], 400, "Invalid 'n'"),
        (gpt(n="two"), [("image", ("a.png", PNG, "image/png"))], 400, "expected an integer"),
        (gpt(prompt="x" * 32001), [("image", ("a.png", PNG, "image/png"))], 400, "string too long"),
        (gpt(), [("image", ("a.png", PNG, "image/png"))] * 2, 400, "Duplicate parameter: 'image'"),
        (
            gpt(),
            [("image", ("a.png", PNG, "image/png")), ("image[]", ("b.png", PNG, "image/png"))],
            400,
            "not both",
        ),
        (gpt(), [("image[]", ("a.png", PNG, "image/png"))] * 17, 400, "too many images"),
        (
            gpt(),
            [("image", ("a.png", PNG, "image/png")), ("mask", ("m.png", sample_png(32, 32), "image/png"))],
            400,
            "alpha",
        ),
        (
            gpt(),
            [
                ("image", ("a.png", PNG, "image/png")),
                ("mask", ("m.png", mask_png(16, 16, (0, 0, 1, 1)), "image/png")),
            ],
            400,
            "does not match",
        ),
        (gpt(model="no-such-model"), [("image", ("a.png", PNG, "image/png"))], 404, "does not exist"),
        (
            {"prompt": "p"},
            [("image", ("a.png", PNG, "image/png"))],
            400,
            "got RGB",
        ),  # no model named: dall-e-2 rules apply
        (
            {"model": "dall-e-2", "prompt": "p"},
            [("image", ("a.png", sample_png(256, 200, "RGBA"), "image/png"))],
            400,
            "square",
        ),
        (
            {"model": "dall-e-2", "prompt": "p"},
            [("image", ("a.png", sample_png(256, 256), "image/png"))],
            400,
            "got RGB",
        ),
        (
            {"model": "dall-e-2", "prompt": "p", "size": "auto"},
            [("image", ("a.png", RGBA, "image/png"))],
            400,
            "Invalid value: 'auto'",
        ),
        (
            {"model": "dall-e-2", "prompt": "x" * 1001},
            [("image", ("a.png", RGBA, "image/png"))],
            400,
            "string too long",
        ),
        (
            {"model": "dall-e-2", "prompt": "p", "response_format": "gif"},
            [("image", ("a.png", RGBA, "image/png"))],
            400,
            "Invalid value: 'gif'",
        ),
        (
            {"model": "dall-e-2", "prompt": "p"},
            [("image", ("a.png", RGBA, "image/png"))] * 2,
            400,
            "exactly one",
        ),
        (gpt(colour="red"), [("image", ("a.png", PNG, "image/png"))], 400, "Unknown parameter: 'colour'."),
    ],
)
async def test_the_fake_refuses_like_the_real_api(
    edit_api: FakeEditAPI,
    http: httpx.AsyncClient,
    fields: dict[str, str],
    files: list[tuple[str, Any]],
    status: int,
    fragment: str,
) -> None:
    resp = await post(edit_api, http, fields, files)
    assert resp.status_code == status, resp.text
    assert fragment in error_of(resp)["message"]


async def test_dalle2_answers_with_a_link_unless_asked_for_base64(
    edit_api: FakeEditAPI, http: httpx.AsyncClient
) -> None:
    files = [("image", ("a.png", RGBA, "image/png"))]
    linked = await post(edit_api, http, {"model": "dall-e-2", "prompt": "p", "size": "256x256"}, files)
    assert linked.json()["data"][0]["url"].startswith(edit_api.root_url + "/files/")
    inline = await post(
        edit_api, http, {"model": "dall-e-2", "prompt": "p", "response_format": "b64_json"}, files
    )
    assert "b64_json" in inline.json()["data"][0]


@pytest.mark.parametrize("key", [None, "sk-wrong-000000"])
async def test_the_fake_checks_the_key(
    edit_api: FakeEditAPI, http: httpx.AsyncClient, key: str | None
) -> None:
    resp = await post(edit_api, http, gpt(), [("image", ("a.png", PNG, "image/png"))], key=key)
    assert resp.status_code == 401
    assert "API key" in error_of(resp)["message"]


async def test_json_body_is_not_multipart(edit_api: FakeEditAPI, http: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {edit_api.api_key}"}
    resp = await http.post(edit_api.base_url + "/images/edits", json={"prompt": "p"}, headers=headers)
    assert resp.status_code == 400 and "multipart/form-data" in error_of(resp)["message"]


async def test_unknown_paths_answer_like_openai(edit_api: FakeEditAPI, http: httpx.AsyncClient) -> None:
    resp = await http.post(edit_api.root_url + "/images/edits")
    assert resp.status_code == 404 and "Invalid URL" in error_of(resp)["message"]


async def test_requests_are_recorded_even_when_refused(
    edit_api: FakeEditAPI, http: httpx.AsyncClient
) -> None:
    await post(edit_api, http, gpt(response_format="url"), [("image", ("a.png", PNG, "image/png"))])
    (got,) = edit_api.requests
    assert got.value("response_format") == "url"
    assert got.images[0].size == (32, 32) and got.images[0].format == "PNG"


async def test_expected_edit_inverts_only_inside_the_mask() -> None:
    photo = sample_png(20, 10)
    mask = mask_png(20, 10, (0, 0, 10, 10))
    out = expected_edit(photo, mask)
    with Image.open(io.BytesIO(photo)) as original:
        src = original.convert("RGB")
    r, g, b = src.getpixel((2, 2))  # type: ignore[misc]
    assert out.getpixel((2, 2)) == (255 - r, 255 - g, 255 - b)
    assert out.getpixel((15, 5)) == src.getpixel((15, 5))
