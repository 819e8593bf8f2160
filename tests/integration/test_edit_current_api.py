"""Today's edit API end to end through the pipeline and client, against the fake that follows the SDK.

Shapes, markup, cut-outs, the new fields, retired models and the errors relays really return.
"""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image, ImageChops, ImageFilter

from core.catalogue import BUILTIN_CATALOGUE
from core.editapi import EditClient, EditRequest, make_http_client
from core.errors import (
    BalanceExhausted,
    EditbotError,
    InvalidOption,
    ModelUnavailable,
    RelayError,
    ResultUnfetchable,
)
from core.events import EditOptions
from core.i18n import explain, render
from core.imaging import prepare_inputs
from core.outputs import choose_outputs
from tests.fakes.edit_api import FakeEditAPI
from tests.unit import imaging_samples as samples

WIDE = samples.jpeg(samples.photo(1920, 1080, seed=5))
STROKES = [[(300, 300), (700, 450), (900, 400)]]


def edit_request(
    model: str, photo: bytes = WIDE, mask: bytes | None = None, **options: object
) -> EditRequest:
    spec = BUILTIN_CATALOGUE.spec(model)
    inputs = prepare_inputs([photo], mask, spec)
    chosen = choose_outputs(spec, EditOptions(**options), inputs.size, 10_000_000)  # type: ignore[arg-type]
    return EditRequest(
        inputs=inputs,
        prompt="make the sky purple",
        model=model,
        user="eb-pseudonym",
        input_fidelity=chosen.input_fidelity,
        background=chosen.background,
        output_format=chosen.output_format,
        output_compression=chosen.output_compression,
    )


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(timeout_s=20.0) as client:
        yield client


@pytest.fixture
def client(edit_api: FakeEditAPI, http: httpx.AsyncClient) -> EditClient:
    return EditClient(http, edit_api.base_url, edit_api.api_key, max_attempts=1)


async def test_a_wide_photo_keeps_its_shape_on_flare(edit_api: FakeEditAPI, client: EditClient) -> None:
    result = await client.edit(edit_request("gpt-image-2.5-flare"))
    sent = edit_api.requests[-1]
    assert sent.value("size") == "1536x864"  # 16:9, not a square or 1536x1024
    assert decoded(result.images[0]).size == (1536, 864)
    assert sent.value("safety_identifier") == "eb-pseudonym" and sent.value("user") is None
    assert sent.value("response_format") is None and sent.value("input_fidelity") is None


async def test_faces_and_details_on_gpt_image_15(edit_api: FakeEditAPI, client: EditClient) -> None:
    await client.edit(edit_request("gpt-image-1.5"))
    sent = edit_api.requests[-1]
    assert sent.value("input_fidelity") == "high" and sent.value("size") == "auto"


async def test_models_that_need_the_old_field_get_user(http: httpx.AsyncClient) -> None:
    async with FakeEditAPI(serve_retired=True) as relay:
        client = EditClient(http, relay.base_url, relay.api_key)
        square = samples.encode(samples.photo(512, 512, seed=1).convert("RGBA"), "PNG")
        await client.edit(edit_request("dall-e-2", photo=square))
        sent = relay.requests[-1]
    assert sent.value("user") == "eb-pseudonym" and sent.value("safety_identifier") is None


async def test_a_painted_copy_is_markup_on_25_and_a_mask_elsewhere(
    edit_api: FakeEditAPI, client: EditClient
) -> None:
    photo = samples.photo(1600, 900, seed=3)
    painted, where = samples.paint(photo, STROKES, width=24, colour=(230, 30, 30))
    copy = samples.jpeg(painted.resize((1200, 675), Image.Resampling.BILINEAR), quality=80)

    await client.edit(edit_request("gpt-image-2.5-flare", samples.jpeg(photo), copy))
    sent = edit_api.requests[-1]
    assert sent.mask is None and sent.markup is not None
    markup = decoded(sent.markup.data)
    assert markup.mode == "RGBA" and markup.size == sent.images[0].size
    drawn = markup.getchannel("A").point([0] + [255] * 255)
    expected = where.resize(markup.size, Image.Resampling.BILINEAR).point([0] * 128 + [255] * 128)
    # The strokes arrive where the user drew them (IoU), in the colour they were drawn in.
    inter = samples.share(ImageChops.multiply(drawn, expected))
    union = samples.share(ImageChops.lighter(drawn, expected))
    assert inter / union > 0.8, inter / union
    r, g, b, _ = markup.getpixel(_inside(expected))
    assert r > 180 and g < 90 and b < 90
    # The photo itself goes as JPEG: only the guide needs alpha.
    assert sent.images[0].content_type == "image/jpeg"

    await client.edit(edit_request("gpt-image-1.5", samples.jpeg(photo), copy))
    sent = edit_api.requests[-1]
    assert sent.markup is None and sent.mask is not None
    assert sent.images[0].content_type == "image/jpeg" and sent.mask.content_type == "image/png"


def _inside(area: Image.Image) -> tuple[int, int]:
    """A pixel well inside the white part of ``area``."""
    core = area.filter(ImageFilter.MinFilter(9))
    box = core.getbbox()
    assert box is not None
    for y in range(box[1], box[3]):
        for x in range(box[0], box[2]):
            if core.getpixel((x, y)) == 255:
                return x, y
    raise AssertionError("no inner pixel")


async def test_a_drawn_overlay_is_markup_too(edit_api: FakeEditAPI, client: EditClient) -> None:
    photo = samples.photo(1600, 900, seed=4)
    overlay = Image.new("RGBA", photo.size, (0, 0, 0, 0))
    _, where = samples.paint(photo, STROKES, width=30, colour=(20, 200, 40))
    overlay.paste((20, 200, 40, 255), (0, 0), where)
    await client.edit(edit_request("gpt-image-2.5-sunburst", samples.jpeg(photo), samples.encode(overlay)))
    markup = edit_api.requests[-1].markup
    assert markup is not None and edit_api.requests[-1].mask is None


async def test_a_cutout_comes_back_transparent(edit_api: FakeEditAPI, client: EditClient) -> None:
    result = await client.edit(edit_request("gpt-image-2.5-flare", cutout=True))
    sent = edit_api.requests[-1]
    assert (sent.value("background"), sent.value("output_format")) == ("transparent", "png")
    image = decoded(result.images[0])
    assert image.format == "PNG" and image.mode == "RGBA" and image.getchannel("A").getextrema()[0] == 0


async def test_large_sizes_come_as_jpeg_that_fits_the_chat(edit_api: FakeEditAPI, client: EditClient) -> None:
    spec = BUILTIN_CATALOGUE.spec("gpt-image-2.5-flare")
    inputs = prepare_inputs([WIDE], None, spec, "4k")
    chosen = choose_outputs(spec, EditOptions(), inputs.size, 10_000_000)
    req = EditRequest(
        inputs=inputs,
        prompt="sharper",
        model=spec.name,
        quality="xhigh",
        output_format=chosen.output_format,
        output_compression=chosen.output_compression,
    )
    result = await client.edit(req)
    sent = edit_api.requests[-1]
    assert sent.value("size") == "3840x2160" and sent.value("quality") == "xhigh"
    assert sent.value("output_format") == "jpeg" and decoded(result.images[0]).format == "JPEG"
    assert len(result.images[0]) < 10_000_000


async def test_xhigh_on_a_model_without_it_is_refused_before_any_call(
    edit_api: FakeEditAPI, client: EditClient
) -> None:
    req = edit_request("gpt-image-1.5")
    with pytest.raises(InvalidOption):
        await client.edit(EditRequest(inputs=req.inputs, prompt="x", model="gpt-image-1.5", quality="xhigh"))
    assert edit_api.requests == []


async def test_a_retired_model_is_no_longer_available(edit_api: FakeEditAPI, client: EditClient) -> None:
    req = edit_request("gpt-image-1")
    with pytest.raises(ModelUnavailable) as caught:
        await client.edit(req)
    assert "no longer available" in user_text(caught.value)
    assert len(edit_api.requests) == 1


@pytest.mark.parametrize(
    "message",
    [
        "当前分组 default 下对于模型 gpt-image-2-vip 无可用渠道",
        "No available channel for model gpt-image-2-vip",
    ],
)
async def test_a_relay_without_a_channel_means_unavailable(
    edit_api: FakeEditAPI, client: EditClient, message: str
) -> None:
    edit_api.fail_next(
        503, {"error": {"message": message, "type": "new_api_error", "code": "model_not_found"}}
    )
    with pytest.raises(ModelUnavailable):
        await client.edit(edit_request("gpt-image-2.5-flare"))


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (429, "insufficient_quota", "You exceeded your current quota, please check your plan and billing."),
        (403, "insufficient_user_quota", "用户额度不足, 剩余额度: $0.01"),
        (403, None, "user quota is not enough"),
    ],
)
async def test_a_used_up_balance_is_told_plainly_and_not_retried(
    edit_api: FakeEditAPI, http: httpx.AsyncClient, status: int, code: str | None, message: str
) -> None:
    client = EditClient(http, edit_api.base_url, edit_api.api_key, max_attempts=3, sleep=_no_sleep)
    edit_api.fail_next(status, {"error": {"message": message, "type": "error", "code": code}}, times=3)
    with pytest.raises(BalanceExhausted) as caught:
        await client.edit(edit_request("gpt-image-2.5-flare"))
    assert len(edit_api.requests) == 1
    text = user_text(caught.value)
    assert "balance" in text and "key may not" not in text


async def test_an_error_in_a_200_body_keeps_the_relays_words_for_the_operator(
    edit_api: FakeEditAPI, client: EditClient, caplog: pytest.LogCaptureFixture
) -> None:
    edit_api.respond_next(
        200, {"error": {"message": "upstream channel 7 exploded", "type": "upstream_error"}}
    )
    with caplog.at_level("WARNING"), pytest.raises(RelayError) as caught:
        await client.edit(edit_request("gpt-image-2.5-flare"))
    assert "upstream channel 7 exploded" in caught.value.details["reason"]
    assert "upstream channel 7 exploded" in caplog.text
    told = user_text(caught.value)
    assert "exploded" not in told and "not charged" in told


@pytest.mark.parametrize("status", [403, 404, 410])
async def test_a_result_link_that_cannot_be_fetched(
    edit_api: FakeEditAPI, client: EditClient, status: int
) -> None:
    edit_api.urls_next([f"{edit_api.root_url}/files/expired-{status}.png"])
    with pytest.raises(ResultUnfetchable) as caught:
        await client.edit(edit_request("gpt-image-2.5-flare"))
    assert "could not be fetched" in user_text(caught.value)


async def test_a_result_link_on_a_host_that_is_down(edit_api: FakeEditAPI, client: EditClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    edit_api.urls_next([f"http://127.0.0.1:{port}/gone.png"])
    with pytest.raises(ResultUnfetchable):
        await client.edit(edit_request("gpt-image-2.5-flare"))


async def test_three_times_the_concurrency_all_succeed(edit_api: FakeEditAPI) -> None:
    """Waiting for a pooled connection is a queue, never a timeout (the pool follows the concurrency)."""
    edit_api.latency = 0.3
    small = samples.jpeg(samples.photo(160, 90, seed=2))
    async with make_http_client(timeout_s=20.0, concurrency=2) as http:
        client = EditClient(http, edit_api.base_url, edit_api.api_key)
        results = await asyncio.gather(
            *(client.edit(edit_request("gpt-image-2", small)) for _ in range(3 * 2 * 3))
        )
    assert len(results) == 18 and all(r.images for r in results)


async def test_the_pool_holds_its_whole_size_at_once(edit_api: FakeEditAPI) -> None:
    """Its 42 connections (2 x concurrency + 2, core.http_transport): 42 edits are at the API
    together, none waiting for a connection."""
    edit_api.latency = 0.5
    small = samples.jpeg(samples.photo(160, 90, seed=3))
    async with make_http_client(timeout_s=20.0, concurrency=20) as http:
        client = EditClient(http, edit_api.base_url, edit_api.api_key)
        results = await asyncio.gather(*(client.edit(edit_request("gpt-image-2", small)) for _ in range(42)))
    assert len(results) == 42 and edit_api.max_in_flight == 42


def user_text(exc: EditbotError) -> str:
    """What a user reads for ``exc``."""
    kind, details = explain(exc)
    return render("en", kind, **details)


async def _no_sleep(_: float) -> None:
    return None
