"""Outbound actions: what the engine asks adapters to show. Wording comes from the catalogs.

Texts are :class:`Text` (a catalog key plus parameters) so each adapter renders them in the
user's language with :func:`core.i18n.render`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
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
class DeliveredPart:
    """One message of a delivered result: its ``kind`` (an adapter's word: ``photo``, ``document``,
    ``buttons``, ``message``), which image it shows (``index``), the platform's message id, and
    where the images now live (for "edit again")."""

    kind: str
    index: int
    message_id: str
    refs: tuple[ImageRef, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form (stored with the job)."""
        return {
            "kind": self.kind,
            "index": self.index,
            "message_id": self.message_id,
            "refs": [r.to_json() for r in self.refs],
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> DeliveredPart:
        """Inverse of :meth:`to_json`."""
        refs = tuple(ImageRef.from_json(dict(r)) for r in data.get("refs") or ())
        return DeliveredPart(str(data["kind"]), int(data["index"]), str(data["message_id"]), refs)


def result_refs(parts: Sequence[DeliveredPart]) -> tuple[ImageRef, ...]:
    """Where each image of a delivered result lives, in order: a part's refs show the images from
    its ``index`` on, and a full-size file (``as_document``) wins over a recompressed photo."""
    by_index: dict[int, ImageRef] = {}
    for part in parts:
        for offset, ref in enumerate(part.refs):
            index = part.index + offset
            known = by_index.get(index)
            if known is None or (ref.as_document and not known.as_document):
                by_index[index] = ref
    return tuple(by_index[i] for i in sorted(by_index))


Recorder = Callable[[DeliveredPart, bool], Awaitable[None]]
"""Stores one sent part of a result before the next is sent (``SendImage.record``)."""


@dataclass(frozen=True, slots=True)
class FullSizeOffer:
    """The full-size files behind a button instead of in the chat (issue 11).

    An adapter whose photos lose something (Telegram recompresses them) calls ``keep`` and adds
    ``button`` under the result instead of sending the original files with it. ``keep`` may be
    called again for the same result (a resumed delivery): it keeps the same files.
    """

    button: Button
    keep: Callable[[], Awaitable[None]] = field(compare=False)


@dataclass(frozen=True, slots=True)
class SendImage:
    """The result of an edit: one or several images, a caption, buttons.

    ``as_document`` asks for the full-resolution file as well (or instead) where the platform
    would recompress a photo; ``cutout`` says the images have a transparent background.
    ``status_message`` is the job's status message: an adapter that can turn it into the result
    (Telegram's editMessageMedia; Discord's response already is the status) does so and says so
    in ``Delivered.status_replaced``, saving a deletion and a new message. A live preview (issue
    12) takes the same path.
    Delivery is a recorded step: adapters skip the parts listed in ``delivered`` (sent by an
    earlier, interrupted attempt) and call ``record`` after each message they send, so a crash in
    between never sends a part twice or refunds a shown result.
    ``full_size`` (None: send the files as before) offers the original files behind a button where
    a photo would lose something and the user did not ask for a file (``as_document``).
    """

    origin: Origin
    job_id: str
    images: tuple[OutputImage, ...]
    caption: str
    buttons: tuple[Button, ...] = ()
    as_document: bool = False
    cutout: bool = False
    delivered: tuple[DeliveredPart, ...] = ()
    record: Recorder | None = field(default=None, compare=False)
    status_message: str | None = None
    full_size: FullSizeOffer | None = None

    def part(self, kind: str, index: int = 0) -> DeliveredPart | None:
        """The part already delivered, if any."""
        return next((p for p in self.delivered if p.kind == kind and p.index == index), None)

    async def sent(self, part: DeliveredPart, *, final: bool = False) -> None:
        """Record a part just sent; ``final``: nothing more follows (its record may go with the commit)."""
        if self.record is not None:
            await self.record(part, final)


@dataclass(frozen=True, slots=True)
class SendProgress:
    """Create or update the job's one status message; ``phase=DONE`` removes it.

    ``message_id`` is the status message known so far (stored with the job, so the process that
    resumes a job replaces the message an earlier one left); adapters that create one return its
    id as ``Delivered.message_id``. ``image`` is a live preview of the edit (a partial image the
    model sent): the status message shows it, with ``text`` as its caption.
    """

    origin: Origin
    job_id: str
    phase: Phase
    text: Text
    message_id: str | None = None
    image: OutputImage | None = None


@dataclass(frozen=True, slots=True)
class SendError:
    """A failure in plain words; ``kind`` is a :mod:`core.errors` kind and a catalog key."""

    origin: Origin
    kind: str
    details: dict[str, Any] = field(default_factory=dict)
    private: bool = False


@dataclass(frozen=True, slots=True)
class SendFiles:
    """Images sent as files, exactly as they are (no recompression), in reply to
    ``origin.reply_to``: the originals behind a result's "Full size" button."""

    origin: Origin
    images: tuple[OutputImage, ...]


@dataclass(frozen=True, slots=True)
class SendChart:
    """A chart for admins (``/stats``): one picture with a caption, no job and no buttons."""

    origin: Origin
    image: OutputImage
    caption: Text


@dataclass(frozen=True, slots=True)
class ShowDrawing:
    """The painter's drawing shown back to its user, where the platform allows in place of the
    message that offered the painter (its link is spent by then)."""

    origin: Origin
    image: OutputImage
    caption: Text


Action = SendText | SendImage | SendProgress | SendError | SendChart | ShowDrawing | SendFiles


@dataclass(frozen=True, slots=True)
class Delivered:
    """What an adapter reports back after sending: the platform's references to sent images, and
    whether the job's status message became the result (it must then not be removed)."""

    message_id: str | None = None
    images: tuple[ImageRef, ...] = ()
    status_replaced: bool = False


class Outbox(Protocol):
    """An adapter's sender, used for actions that happen after ``handle`` returned (job progress, results).

    ``upload_limit`` is the largest image file the platform shows as sent (None: no limit), so the
    runner can ask the API for a format that fits instead of re-encoding the result.
    ``keeps_png`` is False where the platform recompresses every photo (Telegram): a PNG would be
    shown as a JPEG anyway and its full size offered behind a button, so the runner asks for JPEG.
    """

    upload_limit: int | None
    keeps_png: bool

    async def send(self, action: Action) -> Delivered | None:
        """Show the action to the user; return references to what was sent, when there are any."""
        ...

    def has_room_for_preview(self, origin: Origin) -> bool:
        """Whether a live preview sent now would be shown rather than dropped for the platform's
        budget (a peek: nothing is spent). Under a burst most previews are dropped; a preview
        that would be is not even decoded."""
        ...
