"""Discord files -> bytes for the core: attachments and embed images by URL, size-capped.

Rules: only http(s) URLs; a file whose metadata says it is too large is refused before any
request; the body is streamed and dropped the moment it passes the cap, whatever
``Content-Length`` claims. Discord signs CDN links and expires them after about a day, so a
result edited "again" the next day may be gone: the user is told to upload it again.
"""

from __future__ import annotations

import logging

import httpx

from core import errors
from core.http_transport import ShardedTransport
from core.refs import ImageRef
from core.validation import check_image_meta

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_GONE = frozenset({403, 404, 410})


class AttachmentGone(errors.InputError):
    """The file's link no longer works (Discord expired it, or it was deleted)."""

    kind = "discord_attachment_gone"


class DownloadFailed(errors.EditbotError):
    """Discord's CDN could not be reached or answered with an error."""

    kind = "discord_download_failed"


CDN_CONNECTIONS, CDN_KEEPALIVE = 100, 20  # httpx's default pool


def make_http_client() -> httpx.AsyncClient:
    """The client for CDN downloads (a few redirects at most; they stay on http(s)); as many
    connections as httpx's default, in pools that stay cheap when a burst fills them."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=30.0),
        transport=ShardedTransport(CDN_CONNECTIONS, max_keepalive_connections=CDN_KEEPALIVE),
        follow_redirects=True,
        max_redirects=3,
        headers={"User-Agent": "editbot"},
    )


class DiscordFetcher:
    """Downloads the files users gave the bot (``core.refs.FileFetcher``)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def fetch(self, ref: ImageRef, max_bytes: int) -> bytes:
        """The file's bytes; :class:`core.errors.ImageTooLarge` past ``max_bytes``."""
        check_image_meta(ref, max_bytes)
        if not ref.url or not ref.url.startswith(("https://", "http://")):
            raise AttachmentGone("no http(s) URL for this file")
        try:
            async with self._http.stream("GET", ref.url) as response:
                if response.status_code in _GONE:
                    raise AttachmentGone(f"the CDN answered {response.status_code}")
                if response.status_code != 200:
                    raise DownloadFailed(f"the CDN answered {response.status_code}")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise errors.ImageTooLarge(size=int(declared), limit=max_bytes)
                data = bytearray()
                async for chunk in response.aiter_bytes(_CHUNK):
                    data += chunk
                    if len(data) > max_bytes:
                        raise errors.ImageTooLarge(size=len(data), limit=max_bytes)
                return bytes(data)
        except httpx.HTTPError as exc:
            log.warning("downloading a Discord file failed: %s", type(exc).__name__)
            raise DownloadFailed(f"{type(exc).__name__}: {exc}") from exc
