"""Discord and today's models: the default works where retired ones are refused, the model option with
descriptions, shapes, cut-outs, a drawn overlay as markup, and errors relays really return."""

from __future__ import annotations

from PIL import Image

from tests.e2e.discord_harness import DiscordHarness, picture
from tests.fakes.edit_api import sample_png
from tests.unit import imaging_samples as samples


async def test_the_default_model_edits_in_the_photos_shape(dc: DiscordHarness) -> None:
    assert not dc.api.serve_retired
    hit = await dc.edit(dc.photo(samples.jpeg(samples.photo(1280, 720, seed=3)), "wide.jpg"), "warmer")
    result = await dc.result(hit)
    await dc.idle()
    (request,) = dc.api.requests
    assert request.value("model") == "gpt-image-2.5-flare" and request.value("size") == "1536x864"
    assert picture(result).size == (1536, 864)


async def test_the_model_option_lists_described_models(dc: DiscordHarness) -> None:
    await dc.restart(allowed_models=("gpt-image-2.5-sunburst", "gpt-image-1.5"))
    edit, _ = dc.fake.find_command(
        "edit", 1, dc.fake.default_user, dc.fake.default_channel, check_permissions=False
    )
    options = {o["name"]: o for o in edit["options"]}
    names = [c["name"] for c in options["model"]["choices"]]
    assert names[0].startswith("gpt-image-2.5-flare — fast")
    assert any(n.startswith("gpt-image-2.5-sunburst — precise") for n in names)
    assert all(len(n) <= 100 for n in names)
    assert {"1k", "2k", "4k"} <= {c["value"] for c in options["size"]["choices"]}
    assert {"cutout", "keep_details"} <= set(options)

    hit = await dc.edit(dc.photo(sample_png(300, 300), "p.png"), "smile", model="gpt-image-1.5")
    await dc.result(hit)
    await dc.idle()
    (request,) = dc.api.requests
    assert request.value("model") == "gpt-image-1.5" and request.value("input_fidelity") == "high"


async def test_a_cutout_is_a_transparent_png_file(dc: DiscordHarness) -> None:
    hit = await dc.edit(dc.photo(sample_png(320, 240), "bird.png"), "cut the bird out", cutout=True)
    result = await dc.result(hit)
    await dc.idle()
    (request,) = dc.api.requests
    assert request.value("background") == "transparent"
    image = result.files[0].image()
    assert result.files[0].filename.endswith(".png")
    assert isinstance(image, Image.Image) and image.mode == "RGBA"
    assert image.getchannel("A").getextrema()[0] == 0


async def test_a_drawn_overlay_upload_becomes_markup(dc: DiscordHarness) -> None:
    photo = samples.photo(600, 400, seed=9)
    overlay = Image.new("RGBA", photo.size, (0, 0, 0, 0))
    overlay.paste((30, 60, 250, 255), (200, 100, 400, 300))
    hit = await dc.edit(
        dc.photo(samples.encode(photo), "p.png"),
        "put a window where I drew",
        mask=dc.photo(samples.encode(overlay), "drawing.png"),
    )
    await dc.result(hit)
    await dc.idle()
    (request,) = dc.api.requests
    assert request.mask is None and request.markup is not None


async def test_a_cutout_on_a_model_without_transparency_is_refused_before_paying(dc: DiscordHarness) -> None:
    await dc.restart(allowed_models=("gpt-image-2.6-flare",))
    hit = await dc.edit(dc.photo(sample_png(64, 64), "p.png"), "x", model="gpt-image-2.6-flare", cutout=True)
    reply = await dc.private_reply(hit)
    assert "cutout" in reply.content and dc.api.requests == []


async def test_a_relay_without_a_channel_says_the_model_is_unavailable(dc: DiscordHarness) -> None:
    dc.api.fail_next(
        503, {"error": {"message": "当前分组 default 下对于模型 gpt-image-2.5-flare 无可用渠道"}}
    )
    hit = await dc.edit(dc.photo(sample_png(64, 64), "p.png"), "x")
    told = await hit.wait_for_original(lambda m: "no longer available" in m.content, timeout=20)
    await dc.idle()
    assert "not charged" in told.content
    assert "0 of 10" in await dc.usage()
