"""Discord: ``/draw`` answers privately with a one-time painter link; Done updates that message, and the
user's next ``/edit`` in that channel uses the drawing as its mask."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from tests.e2e.painter_harness import DiscordPainterHarness
from tests.fakes.edit_api import sample_png


def _area_png(size: tuple[int, int], box: tuple[int, int, int, int]) -> bytes:
    img = Image.new("RGBA", size, (0, 0, 0, 255))
    img.paste((0, 0, 0, 0), box)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


async def test_draw_link_is_single_use_and_the_next_edit_uses_the_drawing(
    dc_painter: DiscordPainterHarness,
) -> None:
    dc = dc_painter
    photo = sample_png(160, 120)
    hit = await dc.fake.slash_command("draw", {"image": dc.photo(photo, "cat.png")})
    hit = await hit.wait_for_response()
    notice = await dc.private_reply(hit)
    assert "works once" in notice.content
    (button,) = notice.buttons
    assert button["style"] == 5 and button["label"] == "🖌 Draw on it"
    url: str = button["url"]
    assert url.startswith(f"{dc.base}/painter/?t=") and len(url) <= 512  # Discord's limit for link URLs
    link = url.split("?t=", 1)[1]

    async with httpx.AsyncClient(base_url=dc.base) as http:
        opened = await http.post("/painter/api/session", json={"link": link, "initData": None})
        assert opened.status_code == 200, opened.text
        body = opened.json()
        assert (body["width"], body["height"]) == (160, 120)
        replay = await http.post("/painter/api/session", json={"link": link, "initData": None})
        assert replay.status_code == 409 and replay.json()["error"] == "spent"
        auth = {"Authorization": f"Bearer {body['session']}"}
        sent = await http.post(
            "/painter/api/drawing?mode=area", content=_area_png((160, 120), (80, 0, 160, 120)), headers=auth
        )
        assert sent.status_code == 200, sent.text

    updated = await hit.wait_for_original(lambda m: bool(m.files) and not m.deleted)
    assert updated.ephemeral and "Got your drawing" in updated.content and "/edit" in updated.content
    assert updated.buttons == []  # the spent link is gone

    result = await dc.result(await dc.edit(dc.photo(photo, "cat.png"), "make the right half blue"))
    await dc.idle()
    (request,) = dc.api.requests
    assert request.mask is not None and result.files
    alpha = Image.open(io.BytesIO(request.mask.data)).convert("RGBA").getchannel("A")
    w, h = alpha.size
    assert alpha.getpixel((w * 3 // 4, h // 2)) == 0 and alpha.getpixel((w // 4, h // 2)) == 255

    # The drawing was used: the edit after that has no mask.
    await dc.result(await dc.edit(dc.photo(photo, "cat.png"), "again, everywhere"))
    await dc.idle()
    assert dc.api.requests[-1].mask is None
