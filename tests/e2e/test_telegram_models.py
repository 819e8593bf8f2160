"""Telegram and today's models: the default works where retired ones are refused, shapes, markup,
cut-outs and stickers, settings with descriptions, retired and relay models, balance errors."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import sample_png
from tests.fakes.telegram_model import FakeChat
from tests.unit import imaging_samples as samples


def _image(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img


async def _edit(tg: TelegramHarness, photo: bytes, caption: str = "make the sky purple") -> FakeChat:
    user = tg.fake.user(first_name="Ann")
    chat = tg.fake.private_chat(user)
    sent = tg.fake.send_photo(chat, user, photo, caption=caption)
    await tg.photo(chat, after=sent.message_id)
    await tg.idle()
    return chat


async def test_the_default_model_edits_where_retired_models_are_refused(tg: TelegramHarness) -> None:
    assert not tg.api.serve_retired
    await _edit(tg, sample_png(640, 480))
    (request,) = tg.api.requests
    assert request.value("model") == "gpt-image-2.5-flare"
    assert request.value("safety_identifier") and request.value("user") is None


async def test_a_wide_photo_is_edited_in_its_own_shape(tg: TelegramHarness) -> None:
    chat = await _edit(tg, samples.jpeg(samples.photo(1280, 720, seed=2)))
    (request,) = tg.api.requests
    assert request.value("size") == "1536x864"
    photo = next(m for m in tg.fake.messages_in(chat) if m.photo is not None)
    width, height = _image(photo.photo or b"").size
    assert abs(width / height - 16 / 9) < 0.01


async def test_a_painted_copy_arrives_as_markup_on_25(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    original = samples.photo(800, 600, seed=6)
    painted = original.copy()
    painted.paste((255, 0, 0), (300, 200, 500, 400))  # the user's brush strokes
    first = tg.fake.send_photo(chat, user, samples.encode(original))
    await tg.text(chat, "Got your photo", after=first.message_id)
    second = tg.fake.send_photo(chat, user, samples.encode(painted))
    await tg.text(chat, "Got the mask", after=second.message_id)
    third = tg.fake.send_text(chat, user, "turn the red square into a window")
    await tg.photo(chat, after=third.message_id)
    await tg.idle()

    (request,) = tg.api.requests
    assert request.mask is None and request.markup is not None
    markup = _image(request.markup.data)
    sx, sy = markup.width / 800, markup.height / 600
    r, g, b, a = markup.getpixel((int(400 * sx), int(300 * sy)))
    assert a == 255 and r > 230 and g < 30 and b < 30  # drawn, in its colour
    assert markup.getpixel((int(100 * sx), int(100 * sy)))[3] == 0  # untouched: transparent


async def test_help_says_what_a_drawing_does(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_text(chat, user, "/help")
    await tg.text(chat, "shown to the model as markup", after=m.message_id)
    await tg.restart(model="gpt-image-1.5")
    m = tg.fake.send_text(chat, user, "/help")
    await tg.text(chat, "what you paint marks the area to change", after=m.message_id)


async def test_settings_offer_described_models_and_a_cutout_with_a_sticker(tg: TelegramHarness) -> None:
    await tg.restart(allowed_models=("gpt-image-2.5-sunburst", "gpt-image-1.5"))
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_text(chat, user, "/settings")
    menu = await tg.text(chat, "Your defaults", after=m.message_id)
    assert "gpt-image-2.5-flare — fast" in (menu.content or "")
    assert "gpt-image-2.5-sunburst — precise" in (menu.content or "")
    assert "1k" in menu.button_texts and "4k" in menu.button_texts and "xhigh" in menu.button_texts
    cutout = next(t for t in menu.button_texts if t.startswith("Cut out"))
    press = tg.fake.press_button(chat, user, menu, text=cutout)
    await tg.fake.wait_for(lambda: press.answered, 10, what="the settings press answered")

    sent = tg.fake.send_photo(chat, user, sample_png(400, 300), caption="cut the bird out")
    await tg.photo(chat, after=sent.message_id)
    document = await tg.reply(chat, lambda m: m.document is not None, after=sent.message_id)
    sticker = await tg.reply(chat, lambda m: m.raw.get("sticker") is not None, after=sent.message_id)
    await tg.idle()

    (request,) = tg.api.requests
    assert (request.value("background"), request.value("output_format")) == ("transparent", "png")
    cut = _image(document.document or b"")
    assert cut.format == "PNG" and cut.mode == "RGBA" and cut.getchannel("A").getextrema()[0] == 0
    stick = sticker.raw["sticker"]
    assert max(stick["width"], stick["height"]) == 512
    webp = _image(tg.fake.file_bytes(stick["file_id"]))
    assert webp.format == "WEBP" and webp.mode == "RGBA"


async def test_keep_details_is_sent_and_can_be_switched_off(tg: TelegramHarness) -> None:
    await tg.restart(model="gpt-image-1.5")
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    sent = tg.fake.send_photo(chat, user, sample_png(300, 300), caption="smile")
    await tg.photo(chat, after=sent.message_id)
    await tg.idle()
    assert tg.api.requests[-1].value("input_fidelity") == "high"

    m = tg.fake.send_text(chat, user, "/settings")
    menu = await tg.text(chat, "Your defaults", after=m.message_id)
    assert "Keep faces and details: on" in (menu.content or "")
    toggle = next(t for t in menu.button_texts if t.startswith("Keep faces"))
    press = tg.fake.press_button(chat, user, menu, text=toggle)
    await tg.fake.wait_for(lambda: press.answered, 10, what="the settings press answered")
    sent = tg.fake.send_photo(chat, user, sample_png(300, 300), caption="smile")
    await tg.photo(chat, after=sent.message_id)
    await tg.idle()
    assert tg.api.requests[-1].value("input_fidelity") is None


async def test_a_retired_model_is_explained_and_not_charged(tg: TelegramHarness) -> None:
    await tg.restart(model="gpt-image-1")
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    sent = tg.fake.send_photo(chat, user, sample_png(300, 200), caption="brighter")
    told = await tg.text(chat, "no longer available", after=sent.message_id)
    await tg.idle()
    assert "gpt-image-1" in (told.content or "") and "not charged" in (told.content or "")
    m = tg.fake.send_text(chat, user, "/usage")
    await tg.text(chat, "0 of 10", after=m.message_id)


async def test_a_used_up_balance_is_said_plainly(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    tg.api.fail_next(
        403,
        {"error": {"message": "用户额度不足", "type": "new_api_error", "code": "insufficient_user_quota"}},
    )
    sent = tg.fake.send_photo(chat, user, sample_png(300, 200), caption="brighter")
    told = await tg.text(chat, "balance is used up", after=sent.message_id)
    await tg.idle()
    assert "key may not" not in (told.content or "")


async def test_a_relay_model_from_the_models_file_records_its_credits_and_cost(tg: TelegramHarness) -> None:
    models = Path(tg.tmp) / "models.toml"
    models.write_text(
        '[models."gpt-image-2-vip"]\nfamily = "gpt-image-2"\nprice_per_call = 0.04\ncredits = 3\n'
        'description = "relay VIP, billed per call"\n',
        encoding="utf-8",
    )
    owner = tg.fake.user(first_name="Owner")
    await tg.restart(model="gpt-image-2-vip", models=models, admins=f"telegram:{owner.id}")
    since = datetime.now(UTC) - timedelta(minutes=1)
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    sent = tg.fake.send_photo(chat, user, samples.jpeg(samples.photo(1280, 720, seed=8)), caption="sharper")
    await tg.photo(chat, after=sent.message_id)
    await tg.idle()
    (request,) = tg.api.requests
    assert request.value("model") == "gpt-image-2-vip" and request.value("size") == "1536x864"
    assert tg.core is not None
    (job,) = await tg.core.store.job_activity(since=since)
    assert job.credits == 3 and job.estimated_cost == 0.04
    m = tg.fake.send_text(chat, user, "/usage")
    await tg.text(chat, "3 of 10", after=m.message_id)
    owner_chat = tg.fake.private_chat(owner)
    m = tg.fake.send_text(owner_chat, owner, "/stats")
    await tg.text(owner_chat, "Estimated API cost: $0.04", after=m.message_id)
