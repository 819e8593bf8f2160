"""Cut-outs as stickers: Telegram's static stickers are WebP images whose longer side is 512 pixels."""

from __future__ import annotations

import io

from PIL import Image

STICKER_SIDE = 512


def sticker_webp(data: bytes) -> bytes:
    """``data`` (an image with transparency) scaled so its longer side is 512 px, as lossless WebP.

    CPU bound: call it in a worker thread.
    """
    with Image.open(io.BytesIO(data)) as image:
        picture = image.convert("RGBA")
    scale = STICKER_SIDE / max(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    # The longer side must be exactly 512: rounding can never push it off because it scales to 512.
    picture = picture.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    picture.save(buf, "WEBP", lossless=True)
    return buf.getvalue()
