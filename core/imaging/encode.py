"""Encoders: Pillow images to the bytes we upload, with the content type and extension that go with them.

Re-encoding strips EXIF, GPS position included, before the picture leaves for a third-party API
(a JPEG forwarded as it came loses it in :mod:`core.imaging.verbatim` instead).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from core.media import PreparedImage

# zlib level 1 is several times faster than the default 6 on photographic data and only ~10-15 %
# larger; level 9 is the fallback when the fast encoding is over a byte limit.
PNG_FAST = 1
PNG_DEFAULT = 6
PNG_SMALL = 9
JPEG_QUALITY = 92


@dataclass(frozen=True, slots=True)
class Encoded:
    """Encoded image bytes with their MIME type and file extension."""

    data: bytes
    content_type: str
    ext: str
    width: int
    height: int

    def named(self, stem: str) -> PreparedImage:
        """The encoded image as a file called ``<stem>.<ext>``."""
        return PreparedImage(self.data, f"{stem}.{self.ext}", self.content_type, self.width, self.height)


CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}


def png(image: Image.Image, *, level: int = PNG_FAST) -> Encoded:
    """``image`` as PNG at zlib ``level``."""
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=level)
    return _encoded(buf, "PNG", image)


def jpeg(image: Image.Image, *, quality: int = JPEG_QUALITY) -> Encoded:
    """``image`` as a baseline JPEG; transparency is flattened onto white (JPEG has no alpha)."""
    buf = io.BytesIO()
    flatten(image).save(buf, "JPEG", quality=quality)
    return _encoded(buf, "JPEG", image)


def flatten(image: Image.Image) -> Image.Image:
    """``image`` composited over white when it has an alpha channel, else unchanged."""
    if image.mode not in ("RGBA", "LA"):
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image.convert("RGBA"), mask=image.getchannel("A"))
    return background


def _encoded(buf: io.BytesIO, fmt: str, image: Image.Image) -> Encoded:
    return Encoded(
        data=buf.getvalue(),
        content_type=CONTENT_TYPES[fmt],
        ext=EXTENSIONS[fmt],
        width=image.width,
        height=image.height,
    )
