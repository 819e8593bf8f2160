"""Streamed edits against the fake that streams like the SDK expects: partial images, the completed
event, relays that refuse streaming, and every way a stream can break."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.editapi import EditClient, EditRequest, make_http_client
from core.editapi.response import INLINE_PARSE
from core.editapi.sniff import decode_base64
from core.editapi.stream import PartialImage
from core.errors import APIConnectionError, APITimeout, BadResponse, ContentRefused
from core.media import PreparedInputs
from tests.fakes.edit_api import FakeEditAPI, expected_edit, partial_image, prepared, same_pixels, sample_png
from tests.integration.test_edit_current_api import decoded

PHOTO = sample_png(96, 64)


def request(model: str = "gpt-image-2.5-flare", n: int = 1) -> EditRequest:
    inputs = PreparedInputs((prepared(PHOTO),), None, "1536x1024")
    return EditRequest(inputs=inputs, prompt="paint it", model=model, n=n)


class Partials:
    """A sink that keeps what arrives."""

    def __init__(self) -> None:
        self.got: list[PartialImage] = []

    async def __call__(self, partial: PartialImage) -> None:
        self.got.append(partial)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(timeout_s=5.0) as client:
        yield client


@pytest.fixture
def client(edit_api: FakeEditAPI, http: httpx.AsyncClient) -> EditClient:
    return EditClient(http, edit_api.base_url, edit_api.api_key, total_timeout=30.0)


async def test_partials_arrive_before_the_result(edit_api: FakeEditAPI, client: EditClient) -> None:
    partials = Partials()
    result = await client.edit(request(), partials)
    (sent,) = edit_api.requests
    assert (sent.value("stream"), sent.value("partial_images")) == ("true", "2")
    final = expected_edit(PHOTO, None, "1536x1024")
    assert same_pixels(decoded(result.images[0]), final)
    assert [p.index for p in partials.got] == [0, 1]
    for p in partials.got:
        want = decoded(partial_image(result.images[0], p.index, 2))
        assert same_pixels(decoded(p.decode()), want)
    assert result.usage is not None and result.usage.total_tokens
    assert [e for _, e in edit_api.stream_events] == [
        "image_edit.partial_image",
        "image_edit.partial_image",
        "image_edit.completed",
    ]


async def test_a_large_result_is_decoded_off_the_event_loop(
    edit_api: FakeEditAPI, client: EditClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import core.editapi.stream as stream

    threads: list[str] = []

    def spy(text: str) -> bytes | None:
        threads.append(threading.current_thread().name)
        return decode_base64(text)

    monkeypatch.setattr(stream, "decode_base64", spy)
    result = await client.edit(request(), Partials())
    assert len(result.images[0]) * 4 / 3 > INLINE_PARSE  # the path big results take
    assert same_pixels(decoded(result.images[0]), expected_edit(PHOTO, None, "1536x1024"))
    assert threads and threading.main_thread().name not in threads


async def test_several_results_and_unknown_models_are_not_streamed(
    edit_api: FakeEditAPI, client: EditClient
) -> None:
    partials = Partials()
    result = await client.edit(request(n=2), partials)
    assert len(result.images) == 2 and edit_api.requests[-1].value("stream") is None
    await client.edit(request(model="some-relay-model"), partials)
    assert edit_api.requests[-1].value("stream") is None and partials.got == []


async def test_a_relay_that_refuses_stream_gets_the_plain_request_and_is_remembered(
    edit_api: FakeEditAPI, client: EditClient
) -> None:
    edit_api.refuse_stream = True
    partials = Partials()
    result = await client.edit(request(), partials)
    assert result.images and partials.got == []
    refused, plain = edit_api.requests
    assert refused.value("stream") == "true" and plain.value("stream") is None
    assert client.refused_streaming == {"gpt-image-2.5-flare"}
    await client.edit(request(), partials)
    assert len(edit_api.requests) == 3 and edit_api.requests[-1].value("stream") is None


async def test_a_relay_that_answers_json_to_a_stream_is_used_as_is(
    edit_api: FakeEditAPI, client: EditClient
) -> None:
    edit_api.stream_as_json = True
    result = await client.edit(request(), Partials())
    assert result.images and len(edit_api.requests) == 1  # no second call, no second charge
    assert client.refused_streaming == {"gpt-image-2.5-flare"}


@pytest.mark.parametrize(
    ("fault", "error"),
    [("cut", APIConnectionError), ("error", ContentRefused), ("malformed", BadResponse)],
)
async def test_a_broken_stream_fails_the_edit(
    edit_api: FakeEditAPI, client: EditClient, fault: str, error: type[Exception]
) -> None:
    edit_api.stream_fault_next(fault, after=1)
    partials = Partials()
    with pytest.raises(error):
        await client.edit(request(), partials)
    assert len(partials.got) == 1 and len(edit_api.requests) == 1


async def test_a_stalled_stream_times_out_between_events(edit_api: FakeEditAPI) -> None:
    edit_api.stream_fault_next("stall", after=1)
    async with make_http_client(timeout_s=0.5) as http:
        client = EditClient(http, edit_api.base_url, edit_api.api_key)
        partials = Partials()
        with pytest.raises(APITimeout):
            await client.edit(request(), partials)
    assert len(partials.got) == 1


async def test_the_whole_streamed_edit_keeps_the_api_timeout(
    edit_api: FakeEditAPI, http: httpx.AsyncClient
) -> None:
    edit_api.stream_interval = 0.4  # each event comes in time, the whole edit does not
    client = EditClient(http, edit_api.base_url, edit_api.api_key, total_timeout=0.6)
    with pytest.raises(APITimeout):
        await client.edit(request(), Partials())
