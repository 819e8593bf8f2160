"""Discord files -> bytes for the core: attachments and embed images by URL, size-capped.

Rules: only http(s) URLs; a file whose metadata says it is too large is refused before any
request; the body is streamed and dropped the moment it passes the cap, whatever
``Content-Length`` claims; at most three redirects, all on http(s). Discord signs CDN links and
expires them after about a day, so a result edited "again" the next day may be gone: the user is
told to upload it again.

The downloads go through aiohttp, which discord.py already runs on: its parser is in C, and under
a burst a download costs the event loop a fraction of what httpx's pure-Python one did (issue 11).
"""

from __future__ import annotations

import logging

import aiohttp

from core import errors
from core.http_transport import client_timeout
from core.refs import ImageRef
from core.validation import check_image_meta

log = logging.getLogger(__name__)

_GONE = frozenset({403, 404, 410})
_MAX_REDIRECTS = 3

CDN_CONNECTIONS = 100
# No overall limit: a large file on a slow link keeps going as long as bytes keep coming.
CDN_TIMEOUT = client_timeout(connect=10.0, pool=30.0, read=60.0)


def make_http_session() -> aiohttp.ClientSession:
    """The session for CDN downloads (open it on the running loop, close it when the bot stops)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=CDN_CONNECTIONS),
        timeout=CDN_TIMEOUT,
        headers={"User-Agent": "editbot"},
    )


class AttachmentGone(errors.InputError):
    """The file's link no longer works (Discord expired it, or it was deleted)."""

    kind = "discord_attachment_gone"


class DownloadFailed(errors.EditbotError):
    """Discord's CDN could not be reached or answered with an error."""

    kind = "discord_download_failed"


class DiscordFetcher:
    """Downloads the files users gave the bot (``core.refs.FileFetcher``)."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self._http = http

    async def fetch(self, ref: ImageRef, max_bytes: int) -> bytes:
        """The file's bytes; :class:`core.errors.ImageTooLarge` past ``max_bytes``."""
        check_image_meta(ref, max_bytes)
        if not ref.url or not ref.url.startswith(("https://", "http://")):
            raise AttachmentGone("no http(s) URL for this file")
        try:
            # aiohttp gives up on the max_redirects-th redirect itself, hence the + 1.
            async with self._http.get(ref.url, max_redirects=_MAX_REDIRECTS + 1) as response:
                if response.status in _GONE:
                    raise AttachmentGone(f"the CDN answered {response.status}")
                if response.status != 200:
                    raise DownloadFailed(f"the CDN answered {response.status}")
                if response.content_length is not None and response.content_length > max_bytes:
                    raise errors.ImageTooLarge(size=response.content_length, limit=max_bytes)
                data = bytearray()
                async for chunk in response.content.iter_any():
                    data += chunk
                    if len(data) > max_bytes:
                        raise errors.ImageTooLarge(size=len(data), limit=max_bytes)
                return bytes(data)
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("downloading a Discord file failed: %s", type(exc).__name__)
            raise DownloadFailed(f"{type(exc).__name__}: {exc}") from exc
