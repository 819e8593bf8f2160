"""Image payloads that pass between the pipeline and the edit client."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """An encoded image ready to upload as one multipart file part."""

    data: bytes
    filename: str
    content_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class PreparedInputs:
    """What one edit sends: the images (a mask or markup applies to the first), the size to ask for.

    Invariants: when ``mask`` is set it has exactly the first image's dimensions and is an RGBA PNG
    whose fully transparent pixels mark the area to edit. ``markup`` (models that follow drawings)
    is an RGBA PNG of the same dimensions holding only the user's strokes; never both.
    """

    images: tuple[PreparedImage, ...]
    mask: PreparedImage | None
    size: str
    markup: PreparedImage | None = None
