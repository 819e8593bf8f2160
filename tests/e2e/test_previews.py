"""Live previews: the model's partial images appear in the chat while it paints, in both bots.

The fake edit API streams like the SDK expects (partial image events, then the completed event) and
can break a stream; these tests watch what the user sees, pixel by pixel.
"""

from __future__ import annotations

import io
from urllib.parse import urlparse

import pytest
from PIL import Image, ImageChops, ImageStat

from tests.e2e.discord_harness import DiscordHarness, picture
from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import expected_edit, partial_image, sample_png
from tests.fakes.telegram_model import ChatMessage


def _image(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


def _close(shown: Image.Image, want: Image.Image) -> bool:
    """Same picture once Telegram's JPEG recompression is allowed for (mean difference per channel)."""
    a, b = shown.resize((48, 32)), want.resize((48, 32))
    return max(ImageStat.Stat(ImageChops.difference(a, b)).mean) < 6


def _previews(tg: TelegramHarness, message: ChatMessage) -> list[bytes]:
    """Every picture the status message showed, oldest first (it is edited in place)."""
    stored = tg.fake.find_chat(message.chat_id).messages[message.message_id]  # type: ignore[union-attr]
    shown = []
    for raw in [*stored.history, stored.raw]:
        sizes = raw.get("photo")
        if sizes:
            shown.append(tg.fake.file_bytes(sizes[-1]["file_id"]))
    return shown


async def test_telegram_shows_each_partial_then_the_result(tg: TelegramHarness) -> None:
    tg.api.stream_interval = 0.3  # partial events spread out, as a real model paints
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    sent = tg.fake.send_photo(chat, user, sample_png(320, 240), caption="paint it blue")
    status = await tg.reply(
        chat, lambda m: (m.content or "").startswith("🖌 Painting"), after=sent.message_id, within=30
    )
    result = await tg.photo(chat, after=sent.message_id)
    await tg.idle()

    (request,) = tg.api.requests
    assert (request.value("stream"), request.value("partial_images")) == ("true", "2")
    # The status message showed each partial, then became the result (edited in place every time).
    assert result.message_id == status.message_id and result.button_texts
    pictures = _previews(tg, result)
    assert len(pictures) == 3 and len(tg.fake.calls("editMessageMedia")) == 3
    final = expected_edit(request.images[0].data, None, request.value("size"))
    buf = io.BytesIO()
    final.save(buf, "PNG")
    for index, shown in enumerate(pictures[:2]):
        assert _close(_image(shown), _image(partial_image(buf.getvalue(), index, 2)))
    assert _close(_image(pictures[2]), final)


async def test_telegram_previews_off_and_several_results(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_text(chat, user, "/settings")
    menu = await tg.text(chat, "Live previews while the model paints: on", after=m.message_id)
    press = tg.fake.press_button(chat, user, menu, text="Live previews: on")
    await tg.fake.wait_for(lambda: press.answered, 10, what="the settings press answered")
    sent = tg.fake.send_photo(chat, user, sample_png(200, 200), caption="no previews please")
    await tg.photo(chat, after=sent.message_id)
    await tg.idle()
    assert tg.api.requests[-1].value("stream") is None

    press = tg.fake.press_button(
        chat, user, tg.fake.message(chat, menu.message_id), text="Live previews: off"
    )
    await tg.fake.wait_for(lambda: press.answered, 10, what="the settings press answered")
    tg.api.latency = 0.5
    await tg.restart()
    m = tg.fake.send_text(chat, user, "/settings")
    menu = await tg.text(chat, "Your defaults", after=m.message_id)
    press = tg.fake.press_button(chat, user, menu, "set:n:2")
    await tg.fake.wait_for(lambda: press.answered, 10, what="the settings press answered")
    sent = tg.fake.send_photo(chat, user, sample_png(200, 200), caption="two of them")
    await tg.text(chat, "can't be previewed", after=sent.message_id)
    await tg.text(chat, "2 results", after=sent.message_id)
    await tg.idle()
    assert tg.api.requests[-1].value("stream") is None and tg.api.requests[-1].value("n") == "2"


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("error", "safety"),  # output-stage moderation after the first partial
        ("cut", "couldn't reach"),
        ("malformed", "wasn't an image"),
        ("stall", "took too long"),
    ],
)
async def test_telegram_a_stream_broken_mid_way_removes_the_preview_and_refunds(
    tg: TelegramHarness, fault: str, words: str
) -> None:
    await tg.restart(api_timeout=3)  # a stalled stream is given up between events
    tg.api.stream_interval = 0.2
    tg.api.stream_fault_next(fault, after=1)
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    sent = tg.fake.send_photo(chat, user, sample_png(200, 150), caption="something")
    status = await tg.reply(chat, lambda m: (m.content or "").startswith("🖌 Painting"), after=sent.message_id)
    told = await tg.text(chat, "not charged", after=sent.message_id, within=30)
    await tg.idle()
    assert words in (told.content or "").lower().replace("’", "'")
    assert tg.fake.message(chat, status.message_id).deleted  # never left as if it were the result
    m = tg.fake.send_text(chat, user, "/usage")
    await tg.text(chat, "0 of 10", after=m.message_id)


async def test_telegram_a_relay_without_streaming_is_charged_once(tg: TelegramHarness) -> None:
    tg.api.refuse_stream = True
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    sent = tg.fake.send_photo(chat, user, sample_png(200, 150), caption="plain please")
    await tg.photo(chat, after=sent.message_id)
    await tg.idle()
    refused, plain = tg.api.requests
    assert refused.value("stream") == "true" and plain.value("stream") is None
    m = tg.fake.send_text(chat, user, "/usage")
    await tg.text(chat, "1 of 10", after=m.message_id)


def _attachment(dc: DiscordHarness, attachment: dict[str, object]) -> bytes:
    return dc.fake.cdn[urlparse(str(attachment["url"])).path].data


async def test_discord_shows_partials_as_the_responses_attachment(dc: DiscordHarness) -> None:
    dc.api.stream_interval = 0.3
    hit = await dc.edit(dc.photo(sample_png(120, 80), "p.png"), "paint it")
    result = await dc.result(hit)
    await dc.idle()
    (request,) = dc.api.requests
    assert request.value("stream") == "true"
    shown = [h for h in result.history if h["attachments"] and str(h["content"]).startswith("🖌 Painting")]
    assert [str(h["content"]) for h in shown][-1].endswith("2/2")
    final = result.files[0].data
    for snapshot in shown:
        (attachment,) = snapshot["attachments"]
        index = int(str(attachment["filename"]).removeprefix("preview-").split(".")[0]) - 1
        assert _image(_attachment(dc, attachment)) == _image(partial_image(final, index, 2))
    assert picture(result).size == _image(final).size and result.files[0].filename.startswith("edit-")


async def test_discord_a_cut_stream_replaces_the_preview_with_the_error(dc: DiscordHarness) -> None:
    dc.api.stream_interval = 0.2
    dc.api.stream_fault_next("cut", after=1)
    hit = await dc.edit(dc.photo(sample_png(120, 80), "p.png"), "paint it")
    told = await hit.wait_for_original(lambda m: "not charged" in m.content, timeout=30)
    await dc.idle()
    assert told.files == [] and any(h["attachments"] for h in told.history)
    assert "0 of 10" in await dc.usage()
