"""Recognising image bytes by their magic numbers, and decoding inline (base64 / data URL) images.

Only the formats a chat platform can show are recognised: PNG, JPEG, WEBP, GIF. Anything else
coming back from the edit API is treated as a broken response, not as an image.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote_to_bytes

_WHITESPACE = re.compile(rb"\s+")


def image_format(data: bytes) -> str | None:
    """The Pillow name of the format ``data`` starts with (``PNG``, ``JPEG``, ``WEBP``, ``GIF``), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    return None


def decode_base64(text: str) -> bytes | None:
    """Decode standard or URL-safe base64, tolerating whitespace and missing padding; None if invalid.

    A ``data:`` URL is accepted too, because some relays put one into ``b64_json``.
    """
    if text.startswith("data:"):
        return decode_data_url(text)
    try:  # the common case, in C: padded standard base64 without whitespace (no regex pass over megabytes)
        return binascii.a2b_base64(text, strict_mode=True) or None
    except (binascii.Error, ValueError):
        pass
    raw = _WHITESPACE.sub(b"", text.encode("ascii", errors="replace"))
    if not raw:
        return None
    raw += b"=" * (-len(raw) % 4)
    altchars = b"-_" if (b"-" in raw or b"_" in raw) else None
    try:
        return base64.b64decode(raw, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return None


def decode_data_url(url: str) -> bytes | None:
    """The payload of a ``data:[<type>][;base64],<data>`` URL, or None when it is malformed."""
    if not url.startswith("data:"):
        return None
    header, sep, payload = url[5:].partition(",")
    if not sep:
        return None
    if header.lower().endswith(";base64"):
        return decode_base64(payload) if payload else None
    return unquote_to_bytes(payload) or None
