"""Reading answers without a server: link extraction, body flavours, error classification, Retry-After.

(Pure functions; they sit beside the client tests because they belong to the same contract.)
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.editapi.failures import APIErrorInfo, error_for, parse_error_body, parse_retry_after, shorten
from core.editapi.links import extract_image_links
from core.editapi.response import ErrorInBody, InlineImage, RemoteImage, parse_body
from core.editapi.sniff import decode_base64, image_format
from core.editapi.types import Usage
from core.errors import (
    APITimeout,
    AuthenticationFailed,
    BadResponse,
    BalanceExhausted,
    ContentRefused,
    InvalidRequest,
    ModelNotFound,
    ModelUnavailable,
    PermissionDenied,
    RateLimited,
    RelayError,
    ServerError,
)
from tests.fakes.edit_api import FakeEditAPI, sample_png

PNG = sample_png(4, 4)

# -- link extraction --------------------------------------------------------------------------

_path = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~/%=&?", min_size=1, max_size=40)
_host = st.from_regex(r"[a-z]{1,12}(\.[a-z]{2,6}){1,2}", fullmatch=True)
urls = st.builds(lambda s, h, p: f"{s}://{h}/{p}", st.sampled_from(["http", "https"]), _host, _path).filter(
    lambda u: not u.endswith(tuple(".,;:!?'\""))
)
prose = st.text(
    alphabet=st.characters(blacklist_characters="()[]<>!:/", blacklist_categories=("Cs",)), max_size=30
)
data_urls = st.binary(min_size=1, max_size=64).map(
    lambda b: "data:image/png;base64," + base64.b64encode(b).decode()
)


@pytest.fixture(autouse=True)
def _relay_serves_retired_models(edit_api: FakeEditAPI) -> None:
    """These tests speak gpt-image-1 and dall-e-2, as relays still do; OpenAI's 404 for them is tested
    in test_edit_current_api.py."""
    edit_api.serve_retired = True


@given(st.lists(st.tuples(prose, urls), min_size=1, max_size=5), prose)
def test_markdown_images_are_found_in_order(parts: list[tuple[str, str]], tail: str) -> None:
    text = "".join(f"{p} ![image {k}]({u}) " for k, (p, u) in enumerate(parts)) + tail
    assert extract_image_links(text) == list(dict.fromkeys(u for _, u in parts))


@given(st.lists(urls, min_size=1, max_size=5), st.sampled_from(["", ".", ",", "。", ")", "!"]))
def test_bare_urls_are_found_without_trailing_punctuation(found: list[str], punct: str) -> None:
    text = "Done:\n" + "\n".join(f"Image {k}: {u}{punct}" for k, u in enumerate(found))
    assert extract_image_links(text) == list(dict.fromkeys(found))


@given(st.lists(data_urls, min_size=1, max_size=3), st.sampled_from([" ", "\n", ", ", " and ", "\n\n"]))
def test_data_urls_are_found_whole(found: list[str], between: str) -> None:
    text = between.join(found)
    assert extract_image_links(f"Result: {text} ") == list(dict.fromkeys(found))


@given(prose)
def test_prose_alone_has_no_links(text: str) -> None:
    assert extract_image_links(text) == []


def test_download_link_beside_a_markdown_image_is_not_a_second_result() -> None:
    text = "![img](https://cdn.example/a.png)\n\n[Download](https://cdn.example/a.png?dl=1) or https://x.example/b"
    assert extract_image_links(text) == ["https://cdn.example/a.png"]


def test_markdown_image_with_title_and_angle_brackets() -> None:
    assert extract_image_links('![a](<https://e.example/x.png> "title")') == ["https://e.example/x.png"]


def test_data_url_inside_markdown_is_taken_once() -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert extract_image_links(f"![r]({url}) and again {url}") == [url]


# -- body flavours ----------------------------------------------------------------------------


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


B64 = base64.b64encode(PNG).decode()


def test_images_api_b64_with_usage() -> None:
    usage = {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}
    parsed = parse_body(body({"created": 9, "data": [{"b64_json": B64}], "usage": usage}))
    assert not isinstance(parsed, ErrorInBody)
    assert parsed.sources == (InlineImage(PNG),)
    assert parsed.usage == Usage(5, 7, 12) and parsed.created == 9 and parsed.model is None


def test_chat_usage_and_model() -> None:
    doc = {
        "model": "gpt-4o-image",
        "choices": [{"message": {"content": "![x](https://a.example/1.png)"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }
    parsed = parse_body(body(doc))
    assert not isinstance(parsed, ErrorInBody)
    assert parsed.sources == (RemoteImage("https://a.example/1.png"),)
    assert parsed.usage == Usage(3, 4, 7) and parsed.model == "gpt-4o-image"


@pytest.mark.parametrize(
    "content",
    [
        [
            {"type": "text", "text": "here"},
            {"type": "image_url", "image_url": {"url": "https://a.example/1.png"}},
        ],
        [{"type": "image_url", "image_url": "https://a.example/1.png"}],
        [{"type": "text", "text": "see ![a](https://a.example/1.png)"}],
    ],
)
def test_chat_content_parts(content: list[object]) -> None:
    parsed = parse_body(body({"choices": [{"message": {"content": content}}]}))
    assert not isinstance(parsed, ErrorInBody)
    assert parsed.sources == (RemoteImage("https://a.example/1.png"),)


def test_openrouter_style_images_beside_content() -> None:
    doc = {
        "choices": [
            {"message": {"content": "", "images": [{"image_url": {"url": "data:image/png;base64," + B64}}]}}
        ]
    }
    parsed = parse_body(body(doc))
    assert not isinstance(parsed, ErrorInBody) and parsed.sources == (InlineImage(PNG),)


def test_b64_json_holding_a_data_url() -> None:
    parsed = parse_body(body({"data": [{"b64_json": "data:image/png;base64," + B64}]}))
    assert not isinstance(parsed, ErrorInBody) and parsed.sources == (InlineImage(PNG),)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"<!DOCTYPE html><html>oops</html>",
        b"{broken",
        b"[1, 2]",
        b'{"data": []}',
        b'{"data": [{"revised_prompt": "x"}]}',
        b'{"object": "list"}',
        b'{"data": [{"b64_json": "!!!not base64!!!"}]}',
        b'{"choices": [{"message": {"content": null}}]}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_unusable_bodies(raw: bytes) -> None:
    with pytest.raises(BadResponse):
        parse_body(raw)


def test_error_object_in_a_2xx_is_returned_for_classification() -> None:
    assert isinstance(parse_body(body({"error": {"message": "x"}})), ErrorInBody)


def test_usage_ignores_non_integers() -> None:
    parsed = parse_body(
        body({"data": [{"b64_json": B64}], "usage": {"input_tokens": True, "total_tokens": "9"}})
    )
    assert not isinstance(parsed, ErrorInBody) and parsed.usage is None


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b'{"error": {"message": "m", "type": "t", "param": "p", "code": "c"}}',
            APIErrorInfo("m", "t", "c", "p"),
        ),
        (b'{"error": "just text"}', APIErrorInfo("just text")),
        (b'{"message": "relay says no", "code": 1001}', APIErrorInfo("relay says no", code="1001")),
        (b'{"detail": "Not authenticated"}', APIErrorInfo("Not authenticated")),
        (b"upstream timeout", APIErrorInfo("upstream timeout")),
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", APIErrorInfo("502 Bad Gateway")),
        (b"", APIErrorInfo()),
        (b"[]", APIErrorInfo("[]")),
    ],
)
def test_error_bodies_of_every_shape(raw: bytes, expected: APIErrorInfo) -> None:
    assert parse_error_body(raw) == expected


@pytest.mark.parametrize(
    ("status", "info", "error"),
    [
        (401, APIErrorInfo("bad key"), AuthenticationFailed),
        (403, APIErrorInfo("region"), PermissionDenied),
        (403, APIErrorInfo("x", code="moderation_blocked"), ContentRefused),
        (404, APIErrorInfo("nope"), ModelNotFound),
        (404, APIErrorInfo("Invalid URL (POST /images/edits)"), InvalidRequest),
        (
            400,
            APIErrorInfo("No available channel for model gpt-image-9 under group default"),
            ModelUnavailable,
        ),
        (400, APIErrorInfo("bad size", param="size"), InvalidRequest),
        (408, APIErrorInfo("slow"), APITimeout),
        (413, APIErrorInfo("too big"), InvalidRequest),
        (422, APIErrorInfo("x", type="content_policy_violation"), ContentRefused),
        (429, APIErrorInfo("slow down"), RateLimited),
        (429, APIErrorInfo("quota", code="insufficient_quota"), BalanceExhausted),
        (500, APIErrorInfo("boom"), ServerError),
        (500, APIErrorInfo("upstream: content_policy_violation"), ContentRefused),
        (None, APIErrorInfo("weird"), RelayError),
        (None, APIErrorInfo("m", code="model_not_found"), ModelUnavailable),
    ],
)
def test_classification(status: int | None, info: APIErrorInfo, error: type[Exception]) -> None:
    exc = error_for(status, info, model="m1", secret="sk-secret-key")
    assert type(exc) is error


def test_catalog_parameters_are_present() -> None:
    assert error_for(404, APIErrorInfo("x"), model="m1", secret=None).details["model"] == "m1"
    assert error_for(400, APIErrorInfo("why"), model="m1", secret=None).details["reason"] == "why"
    assert error_for(429, APIErrorInfo(), model="m1", secret=None).details["retry_after"] == 30
    assert (
        error_for(429, APIErrorInfo(), model="m1", secret=None, retry_after=1.2).details["retry_after"] == 2
    )


def test_secrets_are_masked() -> None:
    key = "sk-proj-AbCdEf0123456789"
    assert key not in shorten(f"key {key} refused", key)
    assert "sk-proj" not in shorten("Incorrect API key provided: sk-proj-****6789.")
    assert "task-12345678" in shorten("task-12345678 failed")


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "Wed, 01 Jan 2025 00:00:20 GMT"}, 20.0),
        ({"Retry-After": "Tue, 31 Dec 2024 23:59:00 GMT"}, 0.0),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after(httpx.Headers(headers), now=now) == seconds


# -- bytes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (PNG, "PNG"),
        (b"\xff\xd8\xff\xe0rest", "JPEG"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"GIF89a...", "GIF"),
        (b"<html>", None),
        (b"", None),
    ],
)
def test_image_format(data: bytes, fmt: str | None) -> None:
    assert image_format(data) == fmt


@given(st.binary(max_size=200))
def test_base64_variants_round_trip(data: bytes) -> None:
    std = base64.b64encode(data).decode()
    if data:
        assert decode_base64(std) == data
        assert decode_base64(std.rstrip("=")) == data
        assert decode_base64(base64.urlsafe_b64encode(data).decode()) == data
        assert decode_base64(std[:10] + "\n" + std[10:]) == data
    else:
        assert decode_base64(std) is None
