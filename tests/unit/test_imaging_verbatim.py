"""A JPEG forwarded as it came: same pixels, no metadata, and None for anything unusual."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.imaging.verbatim import without_metadata
from tests.unit import imaging_samples as samples


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make; stands in for GPS and the rest
    return exif


@pytest.mark.parametrize(
    "params",
    [
        {"exif": _exif(), "comment": b"taken at home"},
        {"exif": _exif(), "progressive": True},
        {"restart_marker_blocks": 4},
        {"xmp": b"<x:xmpmeta>where it was taken</x:xmpmeta>"},
    ],
)
def test_same_pixels_without_the_metadata(params: dict[str, object]) -> None:
    data = samples.encode(samples.photo(320, 240, seed=1), "JPEG", quality=90, **params)
    copy = without_metadata(data)
    assert copy is not None
    assert _pixels(copy) == _pixels(data)
    with Image.open(io.BytesIO(copy)) as image:
        assert not {"exif", "comment", "xmp"} & set(image.info)
        assert not image.getexif()
    for secret in (b"PhoneMaker", b"taken at home", b"where it was taken"):
        assert secret not in copy


def test_what_decoding_needs_stays() -> None:
    icc = b"\x00" * 200  # opaque to the walker: kept as it is
    data = samples.encode(samples.photo(64, 48), "JPEG", icc_profile=icc)
    copy = without_metadata(data)
    assert copy == data  # JFIF header and ICC profile are kept: nothing to drop here
    cmyk = samples.encode(samples.photo(64, 48).convert("CMYK"), "JPEG")
    assert without_metadata(cmyk) == cmyk  # Adobe's APP14 tells how to read the channels


def test_anything_after_the_first_image_is_dropped() -> None:
    data = samples.jpeg(samples.photo(64, 48))
    # A second frame (MPO) or a vendor trailer may hold another picture or the position.
    assert without_metadata(data + b"SEFT trailer with GPS" + data) == data


def test_unusual_or_damaged_jpegs_are_refused() -> None:
    data = samples.jpeg(samples.photo(64, 48))
    assert without_metadata(data[:-200]) is None  # truncated: no EOI
    assert without_metadata(b"\x89PNG\r\n\x1a\n") is None
    assert without_metadata(data[:2] + data[2:].replace(b"\xff\xc0", b"\xff\xc3", 1)) is None  # lossless
    assert without_metadata(data[:2] + data[2:].replace(b"\xff\xc0", b"\xff\xc9", 1)) is None  # arithmetic
