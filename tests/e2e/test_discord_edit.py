"""Discord: /edit and "Edit image", end to end — defer, progress in place, the result's pixels and buttons."""

from __future__ import annotations

import io
import sqlite3

from PIL import Image

from tests.e2e.discord_harness import DiscordHarness, history, picture
from tests.fakes.edit_api import expected_edit, mask_png, same_pixels, sample_png


async def test_edit_defers_shows_progress_and_delivers_the_result(dc: DiscordHarness) -> None:
    await dc.restart(preview_images=0)  # one progress edit per phase; previews add their own
    dc.api.latency = 0.3  # long enough for the "editing" state to show
    hit = await dc.edit(dc.photo(sample_png(96, 64), "cat photo.png"), "invert the colours")
    assert hit.response_type == 5 and hit.deferred  # "thinking…", within Discord's 3 seconds
    result = await dc.result(hit)
    await dc.idle()

    (request,) = dc.api.requests
    assert request.value("prompt") == "invert the colours" and request.value("model") == "gpt-image-2.5-flare"
    assert same_pixels(picture(result), expected_edit(request.images[0].data, None, request.value("size")))
    # Defer, one progress edit (no ticking clock), the result in its place: three calls (issue 11).
    assert history(result)[:2] == ["", "🎨 Editing your image…"] and len(history(result)) == 3
    responses = dc.fake.requests_to("POST", "/interactions/*") + dc.fake.requests_to("PATCH", "/webhooks/*")
    assert len(responses) == 3, [(r.method, r.path) for r in responses]
    assert result.content == "invert the colours" and not result.ephemeral and not result.loading
    assert [b["label"] for b in result.buttons] == ["✏️ Edit again", "🔁 Retry"]
    assert all(cid.startswith(("editbot:edit_again:", "editbot:retry:")) for cid in result.custom_ids)
    # A PNG, shown as it is: no "Full size" button, and nothing kept for one (issue 11).
    assert picture(result).format == "PNG"
    with sqlite3.connect(dc.tmp / "bot.db") as db:
        assert db.execute("SELECT COUNT(*) FROM full_size_results").fetchone() == (0,)
    assert dc.fake.requests_to("GET", "/ephemeral-attachments/*"), "the bot downloaded the upload"
    assert "1 of 10" in await dc.usage()


async def test_a_photo_comes_back_as_a_jpeg_shown_as_it_is(dc: DiscordHarness) -> None:
    buf = io.BytesIO()
    Image.open(io.BytesIO(sample_png(160, 120))).save(buf, "JPEG", quality=92)
    hit = await dc.edit(dc.photo(buf.getvalue(), "IMG_0001.jpg", "image/jpeg"), "warmer")
    result = await dc.result(hit)
    await dc.idle()

    (request,) = dc.api.requests
    # A photo in, a photo out: a fifth of a PNG's bytes, at a quality near the source's.
    assert (request.value("output_format"), request.value("output_compression")) == ("jpeg", "95")
    assert picture(result).format == "JPEG" and result.files[0].filename.endswith(".jpg")
    assert [b["label"] for b in result.buttons] == ["✏️ Edit again", "🔁 Retry"]


async def test_edit_with_mask_extra_images_and_options(dc: DiscordHarness) -> None:
    photo = dc.photo(sample_png(64, 64), "a.png")
    other = dc.photo(sample_png(64, 64, seed=90), "b.png")
    mask = dc.photo(mask_png(64, 64, (8, 8, 40, 40)), "mask.png")
    hit = await dc.edit(photo, "two of them", image2=other, mask=mask, size="1024x1024", quality="low", n=2)
    result = await dc.result(hit)
    await dc.idle()

    (request,) = dc.api.requests
    assert len(request.images) == 2 and request.mask is not None
    assert (request.value("size"), request.value("quality"), request.value("n")) == ("1024x1024", "low", "2")
    expected = expected_edit(request.images[0].data, request.mask.data, "1024x1024")
    assert len(result.files) == 2 and all(same_pixels(f.image(), expected) for f in result.files)
    assert "2 of 10" in await dc.usage()


async def test_edit_image_message_command_opens_a_modal_with_a_mask_upload(dc: DiscordHarness) -> None:
    source = sample_png(80, 60)
    target = await dc.fake.post_message(
        dc.fake.default_user,
        "look at this",
        attachments=[dc.fake.add_attachment(source, "p.png", channel=dc.fake.default_channel)],
    )
    menu = await (await dc.fake.message_command("Edit image", target)).wait_for_response()
    assert menu.response_type == 9 and menu.modal is not None and menu.modal["title"] == "Edit image"
    mask = dc.photo(mask_png(80, 60, (0, 0, 40, 60)), "mask.png")
    submitted = await menu.submit_modal({"prompt": "left half only", "mask": [mask]})
    result = await dc.result(submitted)
    await dc.idle()

    (request,) = dc.api.requests
    assert request.value("prompt") == "left half only" and request.mask is not None
    size = request.value("size")
    assert same_pixels(picture(result), expected_edit(request.images[0].data, request.mask.data, size))
    assert same_pixels(picture(result), expected_edit(source, mask_png(80, 60, (0, 0, 40, 60)), size))
    assert submitted.response_type == 5 and result.content == "left half only"


async def test_edit_image_on_an_embed_and_on_a_message_without_image(dc: DiscordHarness) -> None:
    source = sample_png(50, 40, seed=7)
    hosted = dc.fake.add_attachment(source, "linked.png", channel=dc.fake.default_channel)
    embed = {
        "type": "image",
        "url": "https://example.com/linked.png",
        "thumbnail": {
            "url": "https://example.com/linked.png",
            "proxy_url": hosted["url"],
            "width": 50,
            "height": 40,
        },
    }
    target = await dc.fake.post_message(
        dc.fake.default_user, "https://example.com/linked.png", embeds=[embed]
    )
    menu = await (await dc.fake.message_command("Edit image", target)).wait_for_response()
    result = await dc.result(await menu.submit_modal({"prompt": "from the embed"}))
    await dc.idle()
    assert same_pixels(picture(result), expected_edit(source, None, dc.api.requests[-1].value("size")))

    plain = await dc.fake.post_message(dc.fake.default_user, "no picture here")
    hit = await (await dc.fake.message_command("Edit image", plain)).wait_for_response()
    reply = await dc.private_reply(hit)
    assert hit.modal is None and "has no image I can edit" in reply.content
    assert len(dc.api.requests) == 1


async def test_an_edit_is_acknowledged_in_time_while_the_database_is_busy(dc: DiscordHarness) -> None:
    """Another writer holds the database longer than Discord waits for an acknowledgement: the
    interaction is acknowledged anyway, and the edit is stored and delivered once the lock goes."""
    await dc.restart(preview_images=0)
    busy = sqlite3.connect(dc.tmp / "bot.db", timeout=30, check_same_thread=False)
    try:
        busy.execute("BEGIN IMMEDIATE")  # the write lock, as a burst of other edits would hold it
        hit = await dc.edit(dc.photo(sample_png(64, 64), "p.png"), "slow day")
        assert hit.response_type == 5 and hit.deferred  # within Discord's 3 s, not expired
        (stored,) = busy.execute("SELECT count(*) FROM jobs").fetchone()
        assert stored == 0  # acknowledged before its job could be stored
    finally:
        busy.rollback()
        busy.close()
    result = await dc.result(hit)
    assert result.content == "slow day"
    await dc.idle()
    assert len(dc.api.requests) == 1 and "1 of 10" in await dc.usage()
