"""References to images that live on a chat platform; bytes are fetched only when a job needs them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from core.identity import Platform


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A platform file: Telegram ``file_id`` or a Discord attachment (``file_id`` = attachment id, ``url``).

    ``size``/``mime``/``width``/``height`` come from platform metadata when it has them, so
    oversize files are refused before anything is downloaded. ``as_document`` marks an image the
    user sent uncompressed (a file rather than a photo); results then come back as a file too.
    ``original`` marks a result photo whose full-size file is kept behind a "Full size" button
    (``job id:index``): an edit of this image starts from that file while it is kept.
    """

    platform: Platform
    file_id: str
    url: str | None = None
    filename: str | None = None
    size: int | None = None
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    as_document: bool = False
    original: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict for the database."""
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageRef:
        """Inverse of :meth:`to_json`."""
        return cls(**{**data, "platform": Platform(data["platform"])})


def kept_original(job_id: str, index: int) -> str:
    """The :attr:`ImageRef.original` of image ``index`` of job ``job_id``'s result."""
    return f"{job_id}:{index}"


class FileFetcher(Protocol):
    """Downloads a platform file; adapters provide one per platform."""

    async def fetch(self, ref: ImageRef, max_bytes: int) -> bytes:
        """The file's bytes; raises :class:`core.errors.ImageTooLarge` past ``max_bytes``."""
        ...
