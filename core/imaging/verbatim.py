"""A user's JPEG sent as it came, less its metadata: no decode, no resample, no re-encode.

Re-encoding a 5-megapixel photo costs a decode, a resample and an encode (~0.1 s of CPU); the
API scales its inputs itself. So a photo the model takes as it is goes out byte for byte, which
also spares it a second lossy generation.

Invariants: the copy holds the first image's segments only, in their order, with the entropy-coded
data untouched, so it decodes to exactly the same pixels. Dropped: EXIF and XMP (APP1, GPS position
and camera included), IPTC (APP13), every other application segment but JFIF (APP0), ICC colour
profiles (APP2) and Adobe's colour transform flag (APP14), comments, and anything after the first
image (MPO frames, vendor trailers). Anything this walker does not recognise as an 8-bit baseline,
extended or progressive Huffman JPEG gives None: the caller re-encodes instead.
"""

from __future__ import annotations

SOI, EOI, SOS, COM = 0xD8, 0xD9, 0xDA, 0xFE
_APP0, _APP2, _APP14 = 0xE0, 0xE2, 0xEE
# Frame types a decoder on the API's side surely handles: baseline, extended, progressive Huffman.
_SUPPORTED_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
_OTHER_FRAMES = frozenset({0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_RESTARTS = range(0xD0, 0xD8)


def without_metadata(data: bytes) -> bytes | None:
    """The JPEG ``data`` with its first image's decoding segments only, or None when it is not a
    plain 8-bit Huffman JPEG ending in EOI (truncated, arithmetic coded, lossless, 12-bit...)."""
    if not data.startswith(b"\xff\xd8"):
        return None
    kept = [data[:2]]
    pos, frame = 2, False
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == EOI:
            kept.append(data[pos : pos + 2])
            return b"".join(kept) if frame else None
        if marker in _RESTARTS or marker == SOI or pos + 4 > len(data):
            return None  # a restart outside a scan, a second SOI, or cut short
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if end > len(data) or end < pos + 4:
            return None
        if marker in _OTHER_FRAMES:
            return None
        if marker in _SUPPORTED_FRAMES:
            if data[pos + 4] != 8:  # sample precision
                return None
            frame = True
        if _needed(marker, data[pos + 4 : end]):
            kept.append(data[pos:end])
        pos = end
        if marker == SOS:
            if not frame:
                return None
            scan_end = _scan_end(data, pos)
            if scan_end is None:
                return None
            kept.append(data[pos:scan_end])
            pos = scan_end


def _needed(marker: int, payload: bytes) -> bool:
    """Whether a segment matters for the pixels (application segments and comments do not, but for
    the JFIF header, the ICC profile and Adobe's colour transform flag)."""
    if marker == COM:
        return False
    if 0xE0 <= marker <= 0xEF:
        return marker in (_APP0, _APP14) or (marker == _APP2 and payload.startswith(b"ICC_PROFILE\x00"))
    return True


def _scan_end(data: bytes, pos: int) -> int | None:
    """Where the entropy-coded data starting at ``pos`` ends: at the first marker that is neither a
    stuffed 0xFF00 nor a restart marker (inside a scan a 0xFF byte is always one of the three)."""
    while True:
        at = data.find(b"\xff", pos)
        if at < 0 or at + 1 >= len(data):
            return None
        following = data[at + 1]
        if following == 0x00 or following in _RESTARTS:
            pos = at + 2
        elif following == 0xFF:
            pos = at + 1  # fill bytes: the marker comes after them
        else:
            return at
