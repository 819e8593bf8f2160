"""EditClient against the fake edit API on loopback: every answer flavour and every failure."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from PIL import Image

from core.editapi import EditClient, EditRequest, make_http_client
from core.errors import (
    APIConnectionError,
    APITimeout,
    AuthenticationFailed,
    BadResponse,
    BalanceExhausted,
    ContentRefused,
    InvalidRequest,
    ModelNotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
)
from core.media import PreparedInputs
from tests.fakes.edit_api import (
    FLAVOURS,
    FakeEditAPI,
    expected_edit,
    mask_png,
    prepared,
    same_pixels,
    sample_png,
)

PHOTO = sample_png(64, 48)


@pytest.fixture(autouse=True)
def _relay_serves_retired_models(edit_api: FakeEditAPI) -> None:
    """These tests speak gpt-image-1 and dall-e-2, as relays still do; OpenAI's 404 for them is tested
    in test_edit_current_api.py."""
    edit_api.serve_retired = True


def request(
    *,
    model: str = "gpt-image-1",
    size: str = "auto",
    n: int = 1,
    photo: bytes = PHOTO,
    mask: bytes | None = None,
) -> EditRequest:
    inputs = PreparedInputs((prepared(photo),), prepared(mask, "mask.png") if mask else None, size)
    return EditRequest(inputs=inputs, prompt="invert the colours", model=model, n=n, user="eb-test")


def pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(timeout_s=20.0) as client:
        yield client


@pytest.fixture
def sleeps() -> list[float]:
    """Waits the client asked for; recorded instead of slept so retries cost no time."""
    return []


@pytest.fixture
def client(edit_api: FakeEditAPI, http: httpx.AsyncClient, sleeps: list[float]) -> EditClient:
    return EditClient(http, edit_api.base_url, edit_api.api_key, sleep=_record(sleeps))


# -- answer flavours --------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_every_flavour_yields_the_fakes_edit(
    edit_api: FakeEditAPI, client: EditClient, flavour: str
) -> None:
    edit_api.flavour = flavour
    result = await client.edit(request(n=2))
    assert len(result.images) == 2
    for data in result.images:
        assert same_pixels(pixels(data), expected_edit(PHOTO))
    assert edit_api.last_usage is not None
    inp, out, total = edit_api.last_usage
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (
        inp,
        out,
        total,
    )
    assert result.model == "gpt-image-1"
    assert result.created == 1_700_000_001


async def test_concrete_size_and_mask_are_applied(edit_api: FakeEditAPI, client: EditClient) -> None:
    photo = sample_png(64, 64)
    mask = mask_png(64, 64, (0, 0, 32, 64))
    result = await client.edit(request(photo=photo, mask=mask, size="1024x1024"))
    got = pixels(result.images[0])
    assert got.size == (1024, 1024)
    assert same_pixels(got, expected_edit(photo, mask, "1024x1024"))
    assert not same_pixels(got, expected_edit(photo, None, "1024x1024"))


async def test_dalle2_square_rgba_png_round_trip(edit_api: FakeEditAPI, client: EditClient) -> None:
    photo = sample_png(256, 256, "RGBA")
    result = await client.edit(request(model="dall-e-2", photo=photo, size="256x256"))
    assert same_pixels(pixels(result.images[0]), expected_edit(photo, None, "256x256"))
    assert edit_api.requests[0].value("response_format") == "b64_json"


async def test_usage_absent_gives_none(edit_api: FakeEditAPI, client: EditClient) -> None:
    edit_api.include_usage = False
    assert (await client.edit(request())).usage is None


async def test_url_flavour_downloads_without_the_key(edit_api: FakeEditAPI, client: EditClient) -> None:
    edit_api.flavour = "url"
    await client.edit(request())
    assert len(edit_api.downloads) == 1
    assert edit_api.downloads[0].path.startswith("/files/")
    assert "Authorization" not in edit_api.downloads[0].headers


async def test_redirects_are_followed_a_few_hops(edit_api: FakeEditAPI, client: EditClient) -> None:
    target = edit_api.file_url(sample_png(8, 8))
    edit_api.urls_next([edit_api.redirect_url(target, hops=3)])
    result = await client.edit(request())
    assert same_pixels(pixels(result.images[0]), pixels(sample_png(8, 8)))


async def test_endless_redirects_are_refused(edit_api: FakeEditAPI, client: EditClient) -> None:
    edit_api.urls_next([edit_api.redirect_url(edit_api.file_url(PHOTO), hops=20)])
    with pytest.raises(BadResponse, match="redirects"):
        await client.edit(request())


async def test_data_url_in_data_is_decoded_inline(edit_api: FakeEditAPI, client: EditClient) -> None:
    import base64

    edit_api.urls_next(["data:image/png;base64," + base64.b64encode(PHOTO).decode()])
    result = await client.edit(request())
    assert result.images == (PHOTO,)
    assert edit_api.downloads == []


@pytest.mark.parametrize("declare_length", [True, False])
async def test_download_over_the_cap_is_refused(
    edit_api: FakeEditAPI, http: httpx.AsyncClient, declare_length: bool
) -> None:
    small = EditClient(http, edit_api.base_url, edit_api.api_key, max_result_bytes=1024 * 1024)
    edit_api.urls_next([edit_api.big_url(3 * 1024 * 1024, declare_length=declare_length)])
    with pytest.raises(BadResponse) as info:
        await small.edit(request())
    assert "result over 1 MB" in info.value.details["reason"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png", "/relative/a.png"])
async def test_non_http_links_are_refused(edit_api: FakeEditAPI, client: EditClient, url: str) -> None:
    edit_api.urls_next([url])
    with pytest.raises(BadResponse, match="refused"):
        await client.edit(request())


async def test_failed_download_is_a_bad_response(edit_api: FakeEditAPI, client: EditClient) -> None:
    edit_api.urls_next([f"{edit_api.root_url}/files/missing.png"])
    with pytest.raises(BadResponse, match="HTTP 404"):
        await client.edit(request())


# -- unusable 2xx bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (FakeEditAPI.malformed_next, "malformed JSON"),
        (FakeEditAPI.empty_next, "no image"),
        (FakeEditAPI.non_image_next, "not an image"),
        (FakeEditAPI.html_next, "HTML"),
    ],
)
async def test_unusable_bodies_are_bad_responses(
    edit_api: FakeEditAPI, client: EditClient, arrange: object, reason: str
) -> None:
    arrange(edit_api)  # type: ignore[operator]
    with pytest.raises(BadResponse) as info:
        await client.edit(request())
    assert reason in info.value.details["reason"]
    assert len(edit_api.requests) == 1


async def test_chat_answer_without_links_is_a_bad_response(edit_api: FakeEditAPI, client: EditClient) -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": "I cannot draw that, sorry."}}]}
    edit_api.respond_next(200, body)
    with pytest.raises(BadResponse):
        await client.edit(request())


async def test_error_object_inside_a_200_is_classified(edit_api: FakeEditAPI, client: EditClient) -> None:
    edit_api.respond_next(200, {"error": {"message": "blocked", "code": "moderation_blocked"}})
    with pytest.raises(ContentRefused):
        await client.edit(request())


# -- error answers ----------------------------------------------------------------------------


async def test_wrong_key_is_authentication_failed_and_never_echoed(
    edit_api: FakeEditAPI, http: httpx.AsyncClient
) -> None:
    key = "sk-wrong-key-1234567890abcdef"
    edit_api.respond_next(
        401, {"error": {"message": f"Incorrect API key provided: {key}.", "code": "invalid_api_key"}}
    )
    bad = EditClient(http, edit_api.base_url, key)
    with pytest.raises(AuthenticationFailed) as info:
        await bad.edit(request())
    exc = info.value
    assert exc.status == 401 and exc.code == "invalid_api_key"
    assert key not in str(exc) and key not in repr(exc.details) and key not in repr(bad)


async def test_fake_rejects_a_wrong_key_itself(edit_api: FakeEditAPI, http: httpx.AsyncClient) -> None:
    bad = EditClient(http, edit_api.base_url, "sk-not-the-right-one-000")
    with pytest.raises(AuthenticationFailed):
        await bad.edit(request())


async def test_403_is_permission_denied(edit_api: FakeEditAPI, client: EditClient) -> None:
    edit_api.fail_next(403)
    with pytest.raises(PermissionDenied):
        await client.edit(request())


async def test_unknown_model_is_model_not_found(edit_api: FakeEditAPI, client: EditClient) -> None:
    with pytest.raises(ModelNotFound) as info:
        await client.edit(request(model="no-such-model"))
    assert info.value.details["model"] == "no-such-model"


@pytest.mark.parametrize(
    "error",
    [
        {"message": "Invalid value for 'model' = x.", "param": "model", "code": "invalid_value"},
        {"message": "The model `x` does not exist", "code": None},
        {"message": "invalid model name x", "code": None},
    ],
)
async def test_400_naming_the_model_is_model_not_found(
    edit_api: FakeEditAPI, client: EditClient, error: dict[str, object]
) -> None:
    edit_api.fail_next(400, {"error": error})
    with pytest.raises(ModelNotFound):
        await client.edit(request())


async def test_400_is_invalid_request_with_the_apis_reason(edit_api: FakeEditAPI, client: EditClient) -> None:
    message = "Invalid image file or mode for image 1, please check your image file."
    edit_api.fail_next(
        400, {"error": {"message": message, "type": "invalid_request_error", "param": "image"}}
    )
    with pytest.raises(InvalidRequest) as info:
        await client.edit(request())
    assert info.value.details["reason"] == message
    assert info.value.status == 400


async def test_long_reasons_are_shortened(edit_api: FakeEditAPI, client: EditClient) -> None:
    edit_api.fail_next(400, {"message": "x" * 5000})
    with pytest.raises(InvalidRequest) as info:
        await client.edit(request())
    assert len(info.value.details["reason"]) <= 200


@pytest.mark.parametrize(
    "body",
    [
        {
            "error": {
                "message": "Your request was rejected.",
                "type": "image_generation_user_error",
                "code": "moderation_blocked",
            }
        },
        {"error": {"message": "Rejected.", "type": "content_policy_violation", "code": None}},
        {
            "error": {
                "message": "Your prompt may contain text that is not allowed (content_policy_violation)."
            }
        },
        {"message": "upstream error: moderation_blocked"},
    ],
)
async def test_safety_refusals_are_content_refused(
    edit_api: FakeEditAPI, client: EditClient, body: dict[str, object]
) -> None:
    edit_api.fail_next(400, body)
    with pytest.raises(ContentRefused):
        await client.edit(request())


async def test_plain_text_error_body(edit_api: FakeEditAPI, client: EditClient) -> None:
    edit_api.fail_next(400, b"bad things happened")
    with pytest.raises(InvalidRequest) as info:
        await client.edit(request())
    assert info.value.details["reason"] == "bad things happened"


async def test_429_retries_after_retry_after_then_succeeds(
    edit_api: FakeEditAPI, client: EditClient, sleeps: list[float]
) -> None:
    edit_api.fail_next(429, headers={"Retry-After": "2"})
    result = await client.edit(request())
    assert len(result.images) == 1
    assert sleeps == [2.0]
    assert len(edit_api.requests) == 2


async def test_429_exhausted_is_rate_limited(
    edit_api: FakeEditAPI, client: EditClient, sleeps: list[float]
) -> None:
    edit_api.fail_next(429, headers={"Retry-After": "3"}, times=3)
    with pytest.raises(RateLimited) as info:
        await client.edit(request())
    assert len(edit_api.requests) == 3
    assert sleeps == [3.0, 3.0]
    assert info.value.retry_after == 3.0 and info.value.details["retry_after"] == 3


async def test_429_asking_for_too_long_gives_up_at_once(
    edit_api: FakeEditAPI, client: EditClient, sleeps: list[float]
) -> None:
    edit_api.fail_next(429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as info:
        await client.edit(request())
    assert sleeps == [] and len(edit_api.requests) == 1
    assert info.value.details["retry_after"] == 120


async def test_429_without_hint_uses_backoff(
    edit_api: FakeEditAPI, client: EditClient, sleeps: list[float]
) -> None:
    edit_api.fail_next(429, times=1)
    await client.edit(request())
    assert sleeps == [0.5]


async def test_insufficient_quota_is_not_retried(
    edit_api: FakeEditAPI, client: EditClient, sleeps: list[float]
) -> None:
    edit_api.fail_next(
        429, {"error": {"message": "You exceeded your current quota.", "code": "insufficient_quota"}}
    )
    with pytest.raises(BalanceExhausted):
        await client.edit(request())
    assert sleeps == [] and len(edit_api.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_server_error_and_not_retried(
    edit_api: FakeEditAPI, client: EditClient, sleeps: list[float], status: int
) -> None:
    edit_api.fail_next(status, times=3)
    with pytest.raises(ServerError) as info:
        await client.edit(request())
    assert info.value.status == status
    assert len(edit_api.requests) == 1 and sleeps == []


async def test_html_5xx_page_is_server_error(edit_api: FakeEditAPI, client: EditClient) -> None:
    edit_api.html_next(status=502)
    with pytest.raises(ServerError) as info:
        await client.edit(request())
    assert "<" not in info.value.details["reason"]


async def test_wrong_base_url_is_not_called_an_unknown_model(
    edit_api: FakeEditAPI, http: httpx.AsyncClient
) -> None:
    lost = EditClient(http, edit_api.root_url, edit_api.api_key)  # forgot /v1
    with pytest.raises(InvalidRequest, match="Invalid URL"):
        await lost.edit(request())


async def test_read_timeout_is_api_timeout_and_not_retried(
    edit_api: FakeEditAPI, sleeps: list[float]
) -> None:
    edit_api.hang_next()
    async with make_http_client(timeout_s=0.3) as http:
        impatient = EditClient(http, edit_api.base_url, edit_api.api_key, sleep=_record(sleeps))
        with pytest.raises(APITimeout):
            await impatient.edit(request())
    assert len(edit_api.requests) == 1 and sleeps == []


async def test_connect_errors_are_retried_then_reported(http: httpx.AsyncClient, sleeps: list[float]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now: every attempt is refused before reaching a server.
    closed = EditClient(http, f"http://127.0.0.1:{port}/v1", "sk-x", sleep=_record(sleeps))
    with pytest.raises(APIConnectionError) as info:
        await closed.edit(request())
    assert info.value.details["attempts"] == 3
    assert sleeps == [0.5, 1.0]


async def test_connect_error_then_success(edit_api: FakeEditAPI, sleeps: list[float]) -> None:
    calls = 0

    async def flaky(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("connection refused", request=req)
        async with httpx.AsyncClient() as real:
            return await real.send(req)

    async with httpx.AsyncClient(transport=httpx.MockTransport(flaky)) as http:
        retrying = EditClient(http, edit_api.base_url, edit_api.api_key, sleep=_record(sleeps))
        result = await retrying.edit(request())
    assert len(result.images) == 1 and calls == 2 and sleeps == [0.5]
    assert len(edit_api.requests) == 1


async def test_latency_is_waited_out(edit_api: FakeEditAPI, client: EditClient) -> None:
    edit_api.latency = 0.2
    assert len((await client.edit(request())).images) == 1


def _record(sleeps: list[float]) -> Callable[[float], Awaitable[None]]:
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    return record


async def test_redirecting_api_address_is_reported_not_followed(sleeps: list[float]) -> None:
    seen: list[str] = []

    async def moved(req: httpx.Request) -> httpx.Response:
        seen.append(str(req.url))
        return httpx.Response(301, headers={"Location": "https://elsewhere.example/v1/images/edits"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(moved)) as http:
        c = EditClient(http, "http://api.example/v1", "sk-x", sleep=_record(sleeps))
        with pytest.raises(BadResponse, match=r"elsewhere\.example") as info:
            await c.edit(request())
    assert "EDITBOT_API_BASE_URL" in info.value.details["reason"]
    assert seen == ["http://api.example/v1/images/edits"]


async def test_the_key_never_reaches_the_logs(
    edit_api: FakeEditAPI, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-wrong-key-for-the-log-test-123"
    edit_api.fail_next(429, headers={"Retry-After": "0"})
    edit_api.respond_next(401, {"error": {"message": f"Incorrect API key provided: {key}."}})
    c = EditClient(http, edit_api.base_url, key, sleep=_record([]))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationFailed) as info:
        await c.edit(request())
    assert len(edit_api.requests) == 2
    assert caplog.records and key not in caplog.text
    assert key not in str(info.value) and key not in repr(info.value.details)
