"""Fetching result images the API answered with as links.

Rules: only ``http``/``https`` (``data:`` links are decoded by the parser and never reach here);
redirects are followed by hand, a few hops, re-checking the scheme at every hop; the body is
streamed and dropped the moment it passes the byte cap, whatever ``Content-Length`` claims.
The API key is never sent: result links usually point at a storage bucket or CDN.
No retries: the brief allows retries only where the edit call itself never ran.

A link that cannot be downloaded (expired, 403, unreachable, timing out) raises
:class:`~core.errors.ResultUnfetchable`: the service answered, its image is what failed.
"""

from __future__ import annotations

import httpx

from core.errors import BadResponse, ResultUnfetchable

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


def check_scheme(url: str) -> httpx.URL:
    """``url`` parsed, or :class:`~core.errors.BadResponse` unless it is an absolute http(s) URL."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise BadResponse("the API returned an invalid image link", reason="invalid image link") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadResponse(
            f"refused to fetch a {parsed.scheme or 'relative'}: link",
            reason=f"refused {parsed.scheme or 'relative'} link",
        )
    return parsed


async def fetch(http: httpx.AsyncClient, url: str, *, max_bytes: int, max_redirects: int = 5) -> bytes:
    """The bytes at ``url``; at most ``max_bytes`` of them, or :class:`~core.errors.BadResponse`."""
    target = check_scheme(url)
    for _ in range(max_redirects + 1):
        try:
            async with http.stream("GET", target, follow_redirects=False) as resp:
                if resp.status_code in _REDIRECTS and "location" in resp.headers:
                    target = check_scheme(str(target.join(resp.headers["location"])))
                    continue
                if resp.status_code != 200:
                    raise ResultUnfetchable(
                        f"downloading the result failed: HTTP {resp.status_code}",
                        reason=f"result download failed (HTTP {resp.status_code})",
                        status=resp.status_code,
                    )
                return await read_capped(resp, max_bytes)
        except httpx.TimeoutException as exc:
            raise ResultUnfetchable(
                f"downloading the result timed out ({type(exc).__name__})", reason="result download timed out"
            ) from None
        except httpx.TransportError as exc:
            raise ResultUnfetchable(
                f"downloading the result failed: {type(exc).__name__}: {exc}", reason="result unreachable"
            ) from None
    raise BadResponse("too many redirects fetching the result", reason="too many redirects")


async def read_capped(resp: httpx.Response, max_bytes: int) -> bytes:
    """Read a streamed body, giving up with :class:`~core.errors.BadResponse` past ``max_bytes``."""
    declared = resp.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    buf = bytearray()
    async for chunk in resp.aiter_bytes(_CHUNK):
        buf += chunk
        if len(buf) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(buf)


def _too_large(max_bytes: int) -> BadResponse:
    return BadResponse(
        f"the answer is larger than {max_bytes} bytes",
        reason=f"result over {max_bytes // 2**20} MB",
        limit_bytes=max_bytes,
    )
