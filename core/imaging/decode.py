"""Safe decoding of untrusted image bytes.

Invariants:
- only JPEG, PNG, WEBP and GIF (first frame) are ever handed to a Pillow decoder;
- the byte limit is checked before Pillow sees the data, the pixel limit before any pixel is decoded;
- every Pillow failure leaves this module as :class:`ImageTooLarge`, :class:`UnsupportedImage` or
  :class:`UnreadableImage` — never as a Pillow exception or a ``DecompressionBombWarning``;
- decoded images come out oriented (EXIF orientation applied) in mode ``RGB``, or ``RGBA`` when
  some pixel is not fully opaque.

Why the format plugins are called directly instead of ``Image.open``: ``Image.open`` runs Pillow's
global decompression-bomb check, which *warns* (a process-wide warning filter decides whether that is
an error) and reads the mutable global ``Image.MAX_IMAGE_PIXELS``. Opening with the plugin class reads
the same headers without that check, so our own per-call pixel limit is the only one that applies.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from PIL import (
    ExifTags,
    GifImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from core.errors import ImageTooLarge, ImageTooManyPixels, UnreadableImage, UnsupportedImage

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 50 * MIB
DEFAULT_MAX_PIXELS = 50_000_000

Size = tuple[int, int]

_OPENERS: dict[str, Callable[[IO[bytes]], ImageFile.ImageFile]] = {
    # JpegImageFile rather than jpeg_factory: the MPO subclass that the factory picks for camera
    # files runs Pillow's global bomb check while opening; we only ever want the first frame anyway.
    "JPEG": JpegImagePlugin.JpegImageFile,
    "PNG": PngImagePlugin.PngImageFile,
    "GIF": GifImagePlugin.GifImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
}

# EXIF orientation -> the transpose that shows the picture upright (the table ImageOps.exif_transpose
# uses; we apply it ourselves so that rotation happens after downscaling, on far fewer pixels).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = frozenset({5, 6, 7, 8})
_SIXTEEN_BIT = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


@dataclass(frozen=True, slots=True)
class Limits:
    """How much an input may weigh before we refuse to decode it."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What an image's headers say: format, upright size (after EXIF orientation), mode, orientation."""

    format: str
    width: int
    height: int
    mode: str
    orientation: int = 1


@dataclass(slots=True)
class Source:
    """An opened, not yet decoded image: the Pillow file object and what its headers say."""

    image: ImageFile.ImageFile
    format: str
    orientation: int
    byte_size: int
    limits: Limits

    @property
    def stored_size(self) -> Size:
        """The size as stored in the file (before orientation)."""
        return self.image.size

    @property
    def size(self) -> Size:
        """The upright size, as the user sees the picture."""
        return upright(self.image.size, self.orientation)


def upright(size: Size, orientation: int) -> Size:
    """``size`` after applying EXIF ``orientation`` (orientations 5-8 swap the axes)."""
    return (size[1], size[0]) if orientation in _SWAPS_AXES else size


def sniff(data: bytes) -> str | None:
    """The Pillow format name of ``data`` judged by its magic bytes, or None when it is not one we accept."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def check_bytes(n: int, limits: Limits) -> None:
    """Refuse ``n`` bytes when over the limit; called before anything is decoded."""
    if n > limits.max_bytes:
        raise ImageTooLarge(size=n, limit=limits.max_bytes)


def check_pixels(size: Size, byte_size: int, limits: Limits) -> None:
    """Refuse a decompression bomb: more pixels than the limit, whatever the file weighs."""
    pixels = size[0] * size[1]
    if pixels > limits.max_pixels or min(size) < 1:
        raise ImageTooManyPixels(
            f"image is {size[0]}x{size[1]} pixels, limit {limits.max_pixels}",
            size=byte_size,
            limit=limits.max_bytes,
            pixels=pixels,
            pixel_limit=limits.max_pixels,
        )


def _webp_canvas(data: bytes) -> Size | None:
    """The canvas size from a WebP header (the container spec's VP8/VP8L/VP8X layouts).

    Needed because Pillow's WebP opener allocates the whole canvas while opening, before we could
    look at ``size``.
    """
    chunk = data[12:16]
    try:
        if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
            w, h = struct.unpack_from("<HH", data, 26)
            return w & 0x3FFF, h & 0x3FFF
        if chunk == b"VP8L" and data[20:21] == b"\x2f":
            (bits,) = struct.unpack_from("<I", data, 21)
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X":
            w = int.from_bytes(data[24:27], "little") + 1
            h = int.from_bytes(data[27:30], "little") + 1
            return w, h
    except struct.error:
        return None
    return None


def _gif_canvas(data: bytes) -> Size | None:
    """The logical screen grown to the first frame's extent, from the GIF header and block structure."""
    if len(data) < 13:
        return None
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while pos < len(data):
        block = data[pos]
        if block == 0x2C:  # image descriptor: left, top, width, height
            if pos + 9 > len(data):
                return width, height
            left, top, w, h = struct.unpack_from("<HHHH", data, pos + 1)
            return max(width, left + w), max(height, top + h)
        if block != 0x21:  # neither an extension nor an image: let the plugin judge the damage
            return width, height
        pos += 2  # introducer + label, then length-prefixed sub-blocks up to a zero length
        while pos < len(data) and data[pos]:
            pos += data[pos] + 1
        pos += 1
    return width, height


def open_source(data: bytes, limits: Limits) -> Source:
    """Read the headers of ``data`` and check every limit; nothing is decoded yet."""
    check_bytes(len(data), limits)
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedImage("not a JPEG, PNG, WEBP or GIF image")
    # Pillow's WebP opener allocates the canvas and its GIF opener grows the canvas to the first
    # frame (running Pillow's global bomb check) while opening: look at those sizes first.
    canvas = _webp_canvas(data) if fmt == "WEBP" else _gif_canvas(data) if fmt == "GIF" else None
    if canvas is not None:
        check_pixels(canvas, len(data), limits)
    try:
        image = _OPENERS[fmt](io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(str(exc), size=len(data), limit=limits.max_bytes) from exc
    except Exception as exc:
        # The magic bytes matched, so whatever the plugin tripped over is damage, not a wrong format.
        # The catch is broad on purpose: malformed headers raise a zoo of exception types.
        raise UnreadableImage(f"broken {fmt} header: {exc}", format=fmt) from exc
    check_pixels(image.size, len(data), limits)
    # A PNG's eXIf chunk may come after the pixel data, and asking Pillow for it would decode them:
    # until load() a PNG without EXIF before its pixels counts as upright.
    orientation = _orientation(image) if fmt != "PNG" or "exif" in image.info else 1
    return Source(image=image, format=fmt, orientation=orientation, byte_size=len(data), limits=limits)


def probe(data: bytes, *, limits: Limits | None = None) -> ImageInfo:
    """Format, upright size and mode of ``data`` from its headers alone.

    Raises UnsupportedImage, UnreadableImage or ImageTooLarge like the decoder would (except for
    damage after the headers, which only decoding finds).
    """
    src = open_source(data, limits or Limits())
    w, h = src.size
    return ImageInfo(format=src.format, width=w, height=h, mode=src.image.mode, orientation=src.orientation)


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8); broken metadata counts as upright rather than failing the photo."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def load(
    src: Source,
    target: Callable[[Size], Size] | None = None,
    *,
    most: Callable[[Size], Size] | None = None,
) -> Image.Image:
    """Decode ``src``, scale it to ``target(upright_size)`` and turn it upright.

    ``target`` is called with the upright full-resolution size once the orientation is known, and
    returns the upright size wanted (it may raise, e.g. when the shape is wrong). JPEGs are decoded
    at a reduced DCT scale (``draft``) when the target is at least twice smaller: decoding a 12 MP
    photo at 1/2 or 1/4 scale costs a fraction of the time and memory of a full decode.

    ``most`` (called like ``target``) is the largest upright size worth keeping: a decode that
    lands within it (at least ``target`` by construction) is kept at that size. The resample it
    spares costs more than the decode itself (~50 ms for 3 MP on one core).
    """
    image = src.image
    want: Size | None = None
    if target is not None and src.format == "JPEG":
        # JPEG orientation lives in APP1, before the scan: known without decoding, so the draft scale
        # can be chosen now. draft() never goes below the requested size, so quality is kept.
        want = target(src.size)
        image.draft(image.mode, upright(want, src.orientation))
    _decode(src)
    if src.format != "JPEG":
        # A PNG's eXIf chunk may follow the pixel data, so only now is the orientation certain.
        src.orientation = _orientation(image)
        if target is not None:
            want = target(src.size)
    result = normalize(image)
    if want is not None:
        decoded = upright(result.size, src.orientation)
        if most is None or not _between(want, decoded, most(src.size)):
            result = resize(result, upright(want, src.orientation))
    method = _TRANSPOSE.get(src.orientation)
    return result.transpose(method) if method is not None else result


def _between(low: Size, size: Size, high: Size) -> bool:
    """Whether ``size`` is at least ``low`` and at most ``high`` on both axes."""
    return low[0] <= size[0] <= high[0] and low[1] <= size[1] <= high[1]


def _decode(src: Source) -> None:
    """Decode the pixels, turning every failure into one of our errors."""
    try:
        src.image.load()
    except Image.DecompressionBombError as exc:
        # A GIF whose first frame reaches beyond its logical screen can still trip Pillow's own check.
        raise ImageTooLarge(str(exc), size=src.byte_size, limit=src.limits.max_bytes) from exc
    except Exception as exc:
        # Truncated data ("image file is truncated"), corrupt entropy coding, bad zlib streams...
        raise UnreadableImage(f"cannot decode {src.format}: {exc}", format=src.format) from exc


def normalize(image: Image.Image) -> Image.Image:
    """``image`` as RGB, or RGBA when some pixel is not fully opaque.

    16-bit greyscale is scaled down to 8 bits (Pillow's plain conversion would clip everything above
    255 to white); palette and grey images with a transparency key keep their transparency; CMYK
    JPEGs go through Pillow's CMYK conversion.
    """
    if image.mode in _SIXTEEN_BIT:
        wide = image if image.mode == "I" else image.convert("I")
        # 65535 / 257 == 255: maps the full 16-bit range onto 8 bits.
        image = wide.point(lambda v: v * (1 / 257)).convert("L")
        # A 16-bit transparency key means nothing once the values are scaled.
        image.info.pop("transparency", None)
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        # An alpha channel that is opaque everywhere carries no information; dropping it lets the
        # encoder pick JPEG and keeps the data small.
        return rgba if has_transparency(rgba) else rgba.convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def has_transparency(image: Image.Image) -> bool:
    """Whether some pixel of an RGBA/LA ``image`` is not fully opaque."""
    return image.getchannel("A").histogram()[255] < image.width * image.height


def resize(image: Image.Image, size: Size) -> Image.Image:
    """High-quality resize; a no-op when ``image`` already has ``size``.

    ``reducing_gap=3.0``: an integer box reduction first, then Lanczos over the last factor of 3 —
    indistinguishable from a plain Lanczos pass (per Pillow's docs) and much cheaper on big shrinks.
    """
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
