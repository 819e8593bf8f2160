"""Edited images on their way to a chat: describe them, and make them fit a platform's upload limits.

Invariant: :func:`fit_for_upload` returns bytes no larger than ``max_bytes`` (and within
``max_side_sum`` when given), in PNG or JPEG, with a filename whose extension matches the content;
the API's file is passed through untouched whenever it already fits.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from PIL import Image

from core.actions import OutputImage
from core.errors import ImageTooLarge
from core.imaging import decode, encode
from core.imaging.layout import fit_within

# Results come from the edit API, not from users, but a relay may send anything: still bounded.
RESULT_LIMITS = decode.Limits(max_bytes=100 * decode.MIB, max_pixels=100_000_000)
# Below this long side a result is not worth sending; refusing beats an unrecognisable thumbnail.
_MIN_SIDE = 64
_PASS_THROUGH = frozenset({"PNG", "JPEG"})


class ImageDescription(NamedTuple):
    """What an encoded image is: pixel size, MIME type, file extension (without the dot)."""

    width: int
    height: int
    content_type: str
    ext: str


def describe(data: bytes) -> ImageDescription:
    """Size and type of an encoded image, from its headers only."""
    info = decode.probe(data, limits=RESULT_LIMITS)
    return ImageDescription(
        info.width, info.height, encode.CONTENT_TYPES[info.format], encode.EXTENSIONS[info.format]
    )


def fit_for_upload(
    data: bytes, max_bytes: int, *, max_side_sum: int | None = None, name: str = "edited"
) -> OutputImage:
    """``data`` as a file of at most ``max_bytes`` (and ``width + height <= max_side_sum``).

    Tries, in order: the file as it is; PNG (for lossless or transparent results); JPEG at high
    quality; JPEG at smaller and smaller sizes.
    E.g. Discord: ``max_bytes=10 * 1024 * 1024``; Telegram photos: ``max_bytes=10_000_000,
    max_side_sum=10_000``. Raises ImageTooLarge when not even a small JPEG fits.
    """
    src = decode.open_source(data, RESULT_LIMITS)
    width, height = src.size
    fits_sides = max_side_sum is None or width + height <= max_side_sum
    if len(data) <= max_bytes and fits_sides and src.orientation == 1 and src.format in _PASS_THROUGH:
        return OutputImage(
            data=data,
            filename=f"{name}.{encode.EXTENSIONS[src.format]}",
            content_type=encode.CONTENT_TYPES[src.format],
            width=width,
            height=height,
        )
    image = decode.load(src, lambda size: _within_side_sum(size, max_side_sum))
    if _png_worth_trying(src, image):
        out = encode.png(image, level=encode.PNG_DEFAULT)
        if len(out.data) <= max_bytes:
            return out.named(name)
    out = encode.jpeg(image)
    while len(out.data) > max_bytes:
        # Bytes scale roughly with the pixel count: aim just under the limit, shrinking each side by
        # at least a tenth (progress) and at most a half per step (no needless loss).
        factor = min(0.9, max(0.5, math.sqrt(max_bytes / len(out.data)) * 0.95))
        size = fit_within(image.size, (int(image.width * factor), int(image.height * factor)))
        if max(size) < _MIN_SIDE:
            raise ImageTooLarge(
                f"cannot fit the result under {max_bytes} bytes",
                size=len(data),
                limit=max_bytes,
            )
        image = decode.resize(image, size)
        out = encode.jpeg(image, quality=encode.JPEG_QUALITY - 2)
    return out.named(name)


def _png_worth_trying(src: decode.Source, image: Image.Image) -> bool:
    """PNG keeps transparency and exact pixels; it is pointless for photos that were lossy already
    (several times JPEG's size), and re-running zlib over a PNG that was too big gains little."""
    if src.format == "PNG" and image.size == src.stored_size and src.orientation == 1:
        return False
    return image.mode == "RGBA" or src.format in ("PNG", "GIF")


def _within_side_sum(size: tuple[int, int], max_side_sum: int | None) -> tuple[int, int]:
    if max_side_sum is None or sum(size) <= max_side_sum:
        return size
    scale = max_side_sum / sum(size)
    return max(1, math.floor(size[0] * scale)), max(1, math.floor(size[1] * scale))
