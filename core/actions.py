"""Outbound actions: what the engine asks adapters to show. Wording comes from the catalogs.

Texts are :class:`Text` (a catalog key plus parameters) so each adapter renders them in the
user's language with :func:`core.i18n.render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from core.events import Origin
from core.media import PreparedImage
from core.refs import ImageRef


@dataclass(frozen=True, slots=True)
class Text:
    """A catalog message: ``key`` plus the values it interpolates."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button; ``action`` + ``job_id`` come back as :class:`core.events.ButtonPressed`.

    ``painter`` (action ``draw``) is a signed painter token instead: the adapter renders a button
    that opens the painter page with it (a Telegram Mini App, a Discord link) and nothing comes back.
    """

    action: str
    job_id: str
    label: Text
    painter: str | None = None


class Phase(StrEnum):
    """Where a job stands."""

    QUEUED = "queued"
    PREPARING = "preparing"
    EDITING = "editing"
    SENDING = "sending"
    DONE = "done"


OutputImage = PreparedImage
"""An encoded image on its way to a chat: the same shape as an upload to the edit API."""


@dataclass(frozen=True, slots=True)
class SendText:
    """A text reply (with optional buttons). ``private`` asks for an ephemeral reply where there is one."""

    origin: Origin
    text: Text
    buttons: tuple[Button, ...] = ()
    private: bool = False


@dataclass(frozen=True, slots=True)
class SendImage:
    """The result of an edit: one or several images, a caption, buttons.

    ``as_document`` asks for the full-resolution file as well (or instead) where the platform
    would recompress a photo; ``cutout`` says the images have a transparent background.
    """

    origin: Origin
    job_id: str
    images: tuple[OutputImage, ...]
    caption: str
    buttons: tuple[Button, ...] = ()
    as_document: bool = False
    cutout: bool = False


@dataclass(frozen=True, slots=True)
class SendProgress:
    """Create or update the job's one status message; ``phase=DONE`` removes it."""

    origin: Origin
    job_id: str
    phase: Phase
    text: Text


@dataclass(frozen=True, slots=True)
class SendError:
    """A failure in plain words; ``kind`` is a :mod:`core.errors` kind and a catalog key."""

    origin: Origin
    kind: str
    details: dict[str, Any] = field(default_factory=dict)
    private: bool = False


Action = SendText | SendImage | SendProgress | SendError


@dataclass(frozen=True, slots=True)
class Delivered:
    """What an adapter reports back after sending: the platform's references to sent images."""

    message_id: str | None = None
    images: tuple[ImageRef, ...] = ()


class Outbox(Protocol):
    """An adapter's sender, used for actions that happen after ``handle`` returned (job progress, results).

    ``upload_limit`` is the largest image file the platform shows as sent (None: no limit), so the
    runner can ask the API for a format that fits instead of re-encoding the result.
    """

    upload_limit: int | None

    async def send(self, action: Action) -> Delivered | None:
        """Show the action to the user; return references to what was sent, when there are any."""
        ...
