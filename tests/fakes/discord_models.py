"""The fake Discord's objects: users, guilds, channels, members, messages and files, and their wire payloads.

Invariants: every id is a real-looking snowflake (discord.py derives timestamps from them); payload builders
return fresh dicts shaped like Discord API v10 objects, so callers may mutate what they get. Nothing here
touches the network.
"""

from __future__ import annotations

import io
import itertools
import mimetypes
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, IntFlag
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
_counter = itertools.count()


def snowflake() -> int:
    """A fresh snowflake: current time in the high bits, a process-wide counter in the low ones."""
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0x3FFFFF)


def iso_now() -> str:
    """The current time as Discord writes timestamps."""
    return datetime.now(UTC).isoformat()


class Perm(IntFlag):
    """Discord permission bits (the ones a photo-editing bot and its tests care about)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = (1 << 51) - 1
EVERYONE_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CHANGE_NICKNAME
    | Perm.SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | Perm.MANAGE_MESSAGES


class ChannelType(IntEnum):
    """Channel types the fake can host."""

    GUILD_TEXT = 0
    DM = 1


class MessageFlag(IntFlag):
    """Message flags the fake sets or reads."""

    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    IS_COMPONENTS_V2 = 1 << 15


class Intent(IntFlag):
    """Gateway intents the fake honours when dispatching message events."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15


@dataclass(eq=False)
class FakeUser:
    """A Discord user (or the bot's own user)."""

    id: int
    username: str
    locale: str = "en-US"
    bot: bool = False
    global_name: str | None = None
    accepts_dms: bool = True

    @property
    def mention(self) -> str:
        """The ``<@id>`` form Discord renders as a mention."""
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        """A user object."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class FakeRole:
    """A guild role; the guild's ``@everyone`` role has the guild's id."""

    id: int
    name: str
    permissions: int
    position: int = 0

    def payload(self) -> dict[str, Any]:
        """A role object."""
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(int(self.permissions)),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass(eq=False)
class FakeMember:
    """A user's membership in a guild."""

    guild: FakeGuild
    user: FakeUser
    roles: list[FakeRole] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    @property
    def permissions(self) -> int:
        """Guild-level permissions; owner and administrators get all (channel overwrites are not modelled)."""
        if self.user.id == self.guild.owner_id:
            return ALL_PERMISSIONS
        value = int(self.guild.everyone.permissions)
        for role in self.roles:
            value |= int(role.permissions)
        return ALL_PERMISSIONS if value & Perm.ADMINISTRATOR else value

    def payload(self, *, with_user: bool = True, with_permissions: bool = False) -> dict[str, Any]:
        """A guild member object (``permissions`` only appears inside interactions)."""
        data: dict[str, Any] = {
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(role.id) for role in self.roles],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if with_permissions:
            data["permissions"] = str(self.permissions)
        return data


@dataclass(eq=False)
class FakeChannel:
    """A guild text channel or a DM channel."""

    id: int
    type: ChannelType
    name: str | None = None
    guild: FakeGuild | None = None
    recipient: FakeUser | None = None
    position: int = 0
    messages: list[FakeMessage] = field(default_factory=list)

    @property
    def guild_id(self) -> int | None:
        """The owning guild's id, or ``None`` for a DM."""
        return None if self.guild is None else self.guild.id

    @property
    def mention(self) -> str:
        """The ``<#id>`` form."""
        return f"<#{self.id}>"

    def payload(self) -> dict[str, Any]:
        """A channel object."""
        last = next((m.id for m in reversed(self.messages) if not m.deleted), None)
        if self.type is ChannelType.DM:
            assert self.recipient is not None
            return {
                "id": str(self.id),
                "type": int(self.type),
                "last_message_id": None if last is None else str(last),
                "recipients": [self.recipient.payload()],
                "flags": 0,
            }
        assert self.guild is not None
        return {
            "id": str(self.id),
            "type": int(self.type),
            "guild_id": str(self.guild.id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": None,
            "last_message_id": None if last is None else str(last),
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }


@dataclass(eq=False)
class FakeGuild:
    """A guild (server) with roles, text channels and members."""

    id: int
    name: str
    owner_id: int
    locale: str = "en-US"
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: dict[int, FakeMember] = field(default_factory=dict)

    @property
    def everyone(self) -> FakeRole:
        """The ``@everyone`` role."""
        return self.roles[0]

    @property
    def default_channel(self) -> FakeChannel:
        """The first text channel (``#general`` unless the test renamed it)."""
        return self.channels[0]

    def add_role(self, name: str, permissions: int = 0) -> FakeRole:
        """Create a role with the given permission bits (see :class:`Perm`)."""
        role = FakeRole(snowflake(), name, int(permissions), position=len(self.roles))
        self.roles.append(role)
        return role

    def add_text_channel(self, name: str) -> FakeChannel:
        """Create a text channel."""
        channel = FakeChannel(
            snowflake(), ChannelType.GUILD_TEXT, name, guild=self, position=len(self.channels)
        )
        self.channels.append(channel)
        return channel

    def add_member(
        self,
        user: FakeUser,
        *,
        roles: Iterable[FakeRole] = (),
        permissions: int = 0,
        admin: bool = False,
        nick: str | None = None,
    ) -> FakeMember:
        """Make ``user`` a member; ``permissions`` adds a role of those bits; ``admin`` adds MANAGE_GUILD."""
        member = self.members.get(user.id) or FakeMember(self, user, nick=nick)
        member.roles.extend(roles)
        extra = int(permissions) | (Perm.MANAGE_GUILD if admin else 0)
        if extra:
            member.roles.append(self.add_role(f"{user.username}-role", extra))
        self.members[user.id] = member
        return member

    def member(self, user: FakeUser) -> FakeMember:
        """The membership of ``user`` (KeyError if not a member)."""
        return self.members[user.id]

    def partial_payload(self) -> dict[str, Any]:
        """The guild object served by REST (no members or channels)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [role.payload() for role in self.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.locale,
            "nsfw_level": 0,
            "max_members": 500000,
        }

    def create_payload(self) -> dict[str, Any]:
        """The GUILD_CREATE payload: the guild with its channels, members and roles."""
        data = self.partial_payload()
        data.update(
            {
                "joined_at": iso_now(),
                "large": False,
                "unavailable": False,
                "member_count": len(self.members),
                "members": [member.payload() for member in self.members.values()],
                "channels": [channel.payload() for channel in self.channels],
                "threads": [],
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return data


@dataclass(eq=False)
class FakeFile:
    """A file stored on the fake CDN, with the attachment object that points at it."""

    filename: str
    content_type: str
    data: bytes
    attachment: dict[str, Any]

    @property
    def id(self) -> int:
        """The attachment's snowflake."""
        return int(self.attachment["id"])

    def image(self) -> Any:
        """The file decoded with Pillow (raises if it is not an image)."""
        from PIL import Image

        image = Image.open(io.BytesIO(self.data))
        image.load()
        return image


def guess_content_type(filename: str, data: bytes) -> str:
    """The content type Discord would report: sniffed for common images, else guessed from the name."""
    signatures = {
        b"\x89PNG\r\n\x1a\n": "image/png",
        b"\xff\xd8\xff": "image/jpeg",
        b"GIF8": "image/gif",
    }
    for magic, kind in signatures.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def image_size(data: bytes, content_type: str) -> tuple[int, int] | None:
    """Pixel dimensions of an image, or ``None`` for anything Pillow cannot read."""
    if not content_type.startswith("image/"):
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:
        return None


_MENTION = re.compile(r"<@!?(\d+)>")


@dataclass(eq=False)
class FakeMessage:
    """A message as the fake stores it; ``payload()`` renders the wire object."""

    id: int
    channel: FakeChannel
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    files: list[FakeFile] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    allowed_mentions: dict[str, Any] | None = None
    mention_users: list[FakeUser] = field(default_factory=list)
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def channel_id(self) -> int:
        """The channel's id."""
        return self.channel.id

    @property
    def guild_id(self) -> int | None:
        """The guild's id, or ``None`` in DMs."""
        return self.channel.guild_id

    @property
    def attachments(self) -> list[dict[str, Any]]:
        """The attachment objects, in order."""
        return [file.attachment for file in self.files]

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user can see it."""
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether it is a deferred "Bot is thinking..." placeholder."""
        return bool(self.flags & MessageFlag.LOADING)

    @property
    def edits(self) -> int:
        """How many times it has been edited."""
        return len(self.history)

    @property
    def mentions(self) -> list[int]:
        """Ids of the users it mentions."""
        return [user.id for user in self.mention_users]

    def walk_components(self) -> Iterator[dict[str, Any]]:
        """Every component, depth first (action rows, sections and containers are walked into)."""
        yield from _walk(self.components)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Every button component."""
        return [c for c in self.walk_components() if c.get("type") == 2]

    @property
    def custom_ids(self) -> list[str]:
        """The custom ids of every interactive component."""
        return [c["custom_id"] for c in self.walk_components() if "custom_id" in c]

    def button(self, *, label: str | None = None, custom_id: str | None = None) -> dict[str, Any]:
        """The button with this label or custom id (LookupError listing the buttons if absent)."""
        for candidate in self.buttons:
            if (label is None or candidate.get("label") == label) and (
                custom_id is None or candidate.get("custom_id") == custom_id
            ):
                return candidate
        shown = [(b.get("label"), b.get("custom_id")) for b in self.buttons]
        raise LookupError(f"no button label={label!r} custom_id={custom_id!r}; message has {shown}")

    def snapshot(self) -> dict[str, Any]:
        """The editable state, kept in ``history`` before each edit."""
        return {
            "content": self.content,
            "embeds": self.embeds,
            "components": self.components,
            "attachments": self.attachments,
            "flags": self.flags,
        }

    def set_content(self, content: str | None) -> None:
        """Replace the text and recompute mentions."""
        self.content = content or ""
        users = self.channel.guild.members if self.channel.guild is not None else {}
        found: list[FakeUser] = []
        for match in _MENTION.finditer(self.content):
            member = users.get(int(match.group(1)))
            user = member.user if member is not None else self.channel.recipient
            if user is not None and user.id == int(match.group(1)) and user not in found:
                found.append(user)
        self.mention_users = found

    def payload(self) -> dict[str, Any]:
        """A message object."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel.id),
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": False,
            "mention_everyone": False,
            "mentions": [user.payload() for user in self.mention_users],
            "mention_roles": [],
            "attachments": [dict(a) for a in self.attachments],
            "embeds": [dict(e) for e in self.embeds],
            "components": list(self.components),
            "reactions": [],
            "pinned": False,
            "type": self.type,
            "flags": self.flags,
        }
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = dict(self.interaction_metadata)
        if self.message_reference is not None:
            data["message_reference"] = dict(self.message_reference)
        return data


def _walk(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for component in components:
        yield component
        yield from _walk(component.get("components", []))
        if isinstance(component.get("accessory"), dict):
            yield component["accessory"]
        if isinstance(component.get("component"), dict):
            yield from _walk([component["component"]])
