"""Inbound events: what adapters hand the conversation engine. A closed set, handled with ``match``.

Every event comes with an :class:`Origin` saying who sent it, where, and under which platform
message id; that id is the idempotency key that keeps a redelivered update from charging twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.identity import ChatRef, Community, Platform, UserKey
from core.media import PreparedImage
from core.refs import ImageRef

if TYPE_CHECKING:  # core.admin_commands imports core.quotas.limits, which imports this module
    from core.admin_commands import AdminRequest


class Role(StrEnum):
    """What the sender may do: ``Origin.role``.

    Adapters set ``ADMIN`` for a community's administrators (Telegram: ``getChatMember`` says
    creator/administrator; Discord: Manage Server), ``MEMBER`` otherwise. ``OWNER`` (EDITBOT_ADMINS)
    is decided by the engine from its configuration; adapters need not set it.
    """

    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"


@dataclass(frozen=True, slots=True)
class ReplyHandle:
    """What it takes to answer an event later beyond its chat: a Discord interaction's webhook.

    ``application_id`` and ``token`` address the interaction's webhook; ``created`` (POSIX
    seconds) says when its token (valid 15 minutes) was issued; ``upload_limit`` is the bytes
    one file may have there; ``mode`` is the adapter's word for where a job's result goes.
    Every field is optional: platforms that answer in the chat alone (Telegram) leave it empty.
    Stored with jobs and conversations as a JSON object of the set fields, the same keys rows
    stored before it existed carry (unknown keys in old rows are ignored).
    """

    application_id: str | None = None
    token: str | None = None
    created: float | None = None
    upload_limit: int | None = None
    mode: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The set fields, JSON-safe."""
        return {name: getattr(self, name) for name in _HANDLE_FIELDS if getattr(self, name) is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ReplyHandle:
        """Inverse of :meth:`to_json`; accepts rows stored as a free-form dict (ids as numbers too)."""
        data = data or {}
        application_id, created, limit = (
            data.get("application_id"),
            data.get("created"),
            data.get("upload_limit"),
        )
        return cls(
            application_id=str(application_id) if application_id is not None else None,
            token=data.get("token"),
            created=float(created) if created is not None else None,
            upload_limit=int(limit) if limit is not None else None,
            mode=data.get("mode"),
        )

    def __bool__(self) -> bool:
        """False when no field is set (nothing beyond the chat to answer through)."""
        return any(getattr(self, name) is not None for name in _HANDLE_FIELDS)


_HANDLE_FIELDS = ("application_id", "token", "created", "upload_limit", "mode")


@dataclass(frozen=True, slots=True)
class Origin:
    """Who sent an event, where, and how to answer it.

    ``event_id`` is unique per platform message/interaction (the idempotency key).
    ``reply_to`` is the platform message to answer. ``handle`` says how to answer later (a
    Discord interaction's webhook), stored with jobs. ``role`` is not stored with jobs (it may
    change any time).
    """

    user: UserKey
    chat: ChatRef
    event_id: str
    community: Community | None = None
    locale: str = "en"
    reply_to: str | None = None
    user_name: str | None = None
    handle: ReplyHandle = field(default_factory=ReplyHandle)
    role: Role = Role.MEMBER

    @property
    def is_private(self) -> bool:
        """True in a private chat / DM."""
        return self.community is None


@dataclass(frozen=True, slots=True)
class EditOptions:
    """Per-edit options; ``None`` means the user's or model's default.

    ``size`` is a preset (``1536x1024``), ``auto``, a free ``WxH`` or a resolution tier (``2k``).
    ``keep_details`` asks for high input fidelity where the model has it (on unless switched off);
    ``cutout`` asks for a transparent background, delivered as a PNG file. ``previews`` shows the
    model's partial images while it paints (on unless switched off).
    """

    model: str | None = None
    size: str | None = None
    quality: str | None = None
    n: int | None = None
    keep_details: bool | None = None
    cutout: bool | None = None
    previews: bool | None = None


@dataclass(frozen=True, slots=True)
class ImageReceived:
    """One or more images (an album is one event), with the caption if any."""

    images: tuple[ImageRef, ...]
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class TextReceived:
    """A plain text message."""

    text: str


@dataclass(frozen=True, slots=True)
class Command:
    """A command such as ``/cancel``; ``name`` without the slash, ``args`` the rest of the line."""

    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class EditSubmitted:
    """Everything at once (Discord's /edit, a Telegram photo with caption, ``/edit`` in reply to a photo)."""

    images: tuple[ImageRef, ...]
    prompt: str
    mask: ImageRef | None = None
    options: EditOptions = field(default_factory=EditOptions)


@dataclass(frozen=True, slots=True)
class ButtonPressed:
    """A button under a result: ``action`` is ``edit_again``, ``retry``, ``retry_confirm`` or
    ``full_size`` (:data:`core.results.FULL_SIZE`)."""

    action: str
    job_id: str
    prompt: str | None = None  # Discord's "edit again" modal carries the prompt with it


@dataclass(frozen=True, slots=True)
class AdminCommand:
    """An admin command (``core.admin.ADMIN_COMMANDS``) with the member it acts on, when there is one.

    ``target`` is resolved by the adapter (the author of the replied-to message, a mention, a
    Discord user option); ``target_name`` is how to show them. A plain :class:`Command` with an
    admin command's name is handled the same way, with no target (or a ``platform:id`` in args).
    ``request`` is the typed command when the front end has typed options (Discord's slash
    commands): then ``name`` is its name and ``args`` are not read.
    """

    name: str
    args: str = ""
    target: UserKey | None = None
    target_name: str | None = None
    request: AdminRequest | None = None


@dataclass(frozen=True, slots=True)
class DrawRequested:
    """Open the painter on ``image`` (Discord's ``/draw``): the answer carries a one-time link to it."""

    image: ImageRef


@dataclass(frozen=True, slots=True)
class DrawingReceived:
    """A drawing made in the painter page on the conversation's photo; ``drawing`` is its stored ref.

    ``preview`` is a small JPEG of the photo with the drawing on it, shown back in the chat.
    """

    drawing: ImageRef
    preview: PreparedImage
    sketch: bool = False


Event = (
    ImageReceived
    | TextReceived
    | Command
    | EditSubmitted
    | ButtonPressed
    | AdminCommand
    | DrawRequested
    | DrawingReceived
)


def origin_to_json(origin: Origin) -> dict[str, Any]:
    """A JSON-safe form of ``origin`` (stored with jobs so results and notices reach the user later)."""
    return {
        "platform": str(origin.user.platform),
        "user_id": origin.user.user_id,
        "chat_id": origin.chat.chat_id,
        "thread_id": origin.chat.thread_id,
        "event_id": origin.event_id,
        "community_id": origin.community.id if origin.community else None,
        "locale": origin.locale,
        "reply_to": origin.reply_to,
        "user_name": origin.user_name,
        "handle": origin.handle.to_json(),
    }


def origin_from_json(data: dict[str, Any]) -> Origin:
    """Inverse of :func:`origin_to_json`."""
    platform = Platform(data["platform"])
    community_id = data.get("community_id")
    return Origin(
        user=UserKey(platform, data["user_id"]),
        chat=ChatRef(platform, data["chat_id"], data.get("thread_id")),
        event_id=data["event_id"],
        community=Community(platform, community_id) if community_id else None,
        locale=data.get("locale") or "en",
        reply_to=data.get("reply_to"),
        user_name=data.get("user_name"),
        handle=ReplyHandle.from_json(data.get("handle")),
    )
