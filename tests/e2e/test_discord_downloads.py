"""Discord: downloading the user's image from the CDN, and every way it can go wrong.

The fetcher is the real one (aiohttp) against the fake CDN or the fake edit API's file routes; the
user sees a reply in their words, no edit-API call is made, and nothing is charged.
"""

from __future__ import annotations

import socket
from typing import Any

from tests.e2e.discord_harness import DiscordHarness
from tests.fakes.discord_models import FakeMessage
from tests.fakes.discord_server import FakeInteraction
from tests.fakes.edit_api import sample_png

MIB = 2**20


def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pointing_at(dc: DiscordHarness, url: str, size: int = 1000) -> dict[str, Any]:
    """An attachment whose metadata looks fine but whose link leads to ``url``."""
    photo = dc.photo(sample_png(64, 64))
    photo.update(url=url, proxy_url=url, size=size)
    return photo


async def failed(dc: DiscordHarness, hit: FakeInteraction, words: str) -> FakeMessage:
    """The message that tells the user the job failed with ``words``; nothing left behind."""
    message = await hit.wait_for_original(lambda m: words in m.content, timeout=20)
    await dc.idle()
    assert not message.files and not message.buttons
    return message


async def test_an_expired_link_asks_for_a_new_upload_and_costs_nothing(dc: DiscordHarness) -> None:
    photo = dc.photo(sample_png(64, 64))
    dc.fake.cdn.clear()  # Discord expired the signed link: its CDN answers 404
    hit = await dc.edit(photo, "edit it")
    message = await failed(dc, hit, "no longer available on Discord")
    assert "upload it again" in message.content and "not charged" in message.content
    assert dc.api.requests == [] and "0 of 10" in await dc.usage()


async def test_an_unreachable_cdn_says_try_again_and_costs_nothing(dc: DiscordHarness) -> None:
    hit = await dc.edit(pointing_at(dc, f"http://127.0.0.1:{closed_port()}/attachments/1/2/x.png"), "edit it")
    message = await failed(dc, hit, "couldn't download the image from Discord")
    assert "try again" in message.content and "not charged" in message.content
    assert dc.api.requests == [] and "0 of 10" in await dc.usage()


async def test_a_body_larger_than_its_metadata_is_cut_off_at_the_limit(dc: DiscordHarness) -> None:
    await dc.restart(max_input_bytes=2 * MIB)
    # The attachment claims 1000 bytes; the server sends 50 MB without saying so in advance.
    hit = await dc.edit(pointing_at(dc, dc.api.big_url(50 * MIB)), "edit it")
    message = await failed(dc, hit, "too large")
    assert "under 2 MB" in message.content
    # And one that declares its true length is refused from the header.
    hit = await dc.edit(pointing_at(dc, dc.api.big_url(50 * MIB, declare_length=True)), "edit it")
    message = await failed(dc, hit, "too large (50 MB)")
    assert dc.api.requests == [] and "0 of 10" in await dc.usage()


async def test_redirects_are_followed_three_times_at_most(dc: DiscordHarness) -> None:
    image = sample_png(64, 64)
    hit = await dc.edit(pointing_at(dc, dc.api.redirect_url(dc.api.file_url(image), hops=3)), "edit it")
    assert (await dc.result(hit)).files
    (sent,) = dc.api.requests  # the image reached the edit API after three redirects
    assert len(sent.images) == 1

    hit = await dc.edit(pointing_at(dc, dc.api.redirect_url(dc.api.file_url(image), hops=4)), "edit it")
    await failed(dc, hit, "couldn't download the image from Discord")
    hit = await dc.edit(pointing_at(dc, dc.api.redirect_url("file:///etc/passwd")), "edit it")
    await failed(dc, hit, "couldn't download the image from Discord")
    assert len(dc.api.requests) == 1 and "1 of 10" in await dc.usage()
