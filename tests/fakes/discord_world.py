"""What exists in the fake Discord: the bot, users, guilds, DM channels, files on the CDN and synced commands.

Invariants: the bot is a member of every guild, with its own role (its permissions decide what REST allows); a
guild's ``@everyone`` role has the guild's id; every file has one CDN path served by the fake; synced commands
keep their id across re-syncs while name and type stay the same, as on Discord. No network here.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

from tests.fakes.discord_models import (
    BOT_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    ChannelType,
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeMessage,
    FakeRole,
    FakeUser,
    Perm,
    guess_content_type,
    image_size,
    snowflake,
)


class DiscordWorld:
    """The state behind the fake: build it in tests, inspect it after the bot acted."""

    def __init__(self, *, application_id: int | None, bot_name: str) -> None:
        self.application_id = application_id or snowflake()
        self.application_flags = 0
        self.base_url = ""
        self.users: dict[int, FakeUser] = {}
        self.guilds: dict[int, FakeGuild] = {}
        self.cdn: dict[str, FakeFile] = {}
        self.commands_synced: dict[int | None, list[dict[str, Any]]] = {}
        self.sync_count = 0
        self._files: dict[int, FakeFile] = {}
        self._dms: dict[int, FakeChannel] = {}
        self.bot_user = FakeUser(self.application_id, bot_name, bot=True)
        self.users[self.bot_user.id] = self.bot_user
        self.app_owner = self.add_user("developer")
        self.default_user = self.add_user("alice")
        self.default_guild = self.add_guild("Test Server", owner=self.add_user("owner"))
        self.default_guild.add_member(self.default_user)
        self.default_channel = self.default_guild.default_channel

    # -- people and places -----------------------------------------------------------------------------

    def add_user(self, name: str, *, locale: str = "en-US", bot: bool = False) -> FakeUser:
        """Create a user; ``locale`` becomes the ``locale`` of their interactions."""
        user = FakeUser(snowflake(), name, locale=locale, bot=bot, global_name=name.title())
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner: FakeUser | None = None,
        locale: str = "en-US",
        channels: Iterable[str] = ("general",),
        bot_permissions: int = BOT_PERMISSIONS,
    ) -> FakeGuild:
        """Create a guild with the bot in it (sessions that identify afterwards get its GUILD_CREATE)."""
        owner = owner or self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = FakeGuild(snowflake(), name, owner.id, locale=locale)
        guild.roles.append(FakeRole(guild.id, "@everyone", int(EVERYONE_PERMISSIONS)))
        for channel_name in channels:
            guild.add_text_channel(channel_name)
        guild.add_member(owner)
        guild.add_member(self.bot_user, roles=[guild.add_role(self.bot_user.username, bot_permissions)])
        self.guilds[guild.id] = guild
        return guild

    def set_bot_permissions(self, guild: FakeGuild, permissions: int) -> None:
        """Make ``permissions`` the bot's only permissions in ``guild`` (e.g. without ATTACH_FILES)."""
        member = guild.member(self.bot_user)
        for role in member.roles:
            role.permissions = 0
        guild.everyone.permissions = 0
        member.roles[0].permissions = int(permissions)

    def bot_permissions(self, channel: FakeChannel) -> int:
        """The bot's permissions where ``channel`` is (what any DM allows, for DMs)."""
        if channel.guild is None:
            return int(EVERYONE_PERMISSIONS)
        return channel.guild.member(self.bot_user).permissions

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The DM channel between the bot and ``user`` (created on first use)."""
        if user.id not in self._dms:
            self._dms[user.id] = FakeChannel(snowflake(), ChannelType.DM, recipient=user)
        return self._dms[user.id]

    def find_channel(self, channel_id: int) -> FakeChannel | None:
        """A guild or DM channel by id."""
        for dm in self._dms.values():
            if dm.id == channel_id:
                return dm
        for guild in self.guilds.values():
            for channel in guild.channels:
                if channel.id == channel_id:
                    return channel
        return None

    def messages_in(
        self, channel: FakeChannel | None = None, *, include_ephemeral: bool = False
    ) -> list[FakeMessage]:
        """Messages in ``channel`` (the default channel if omitted), oldest first, deleted ones left out."""
        channel = channel or self.default_channel
        return [m for m in channel.messages if not m.deleted and (include_ephemeral or not m.ephemeral)]

    # -- files -----------------------------------------------------------------------------------------

    def add_attachment(
        self,
        data: bytes,
        filename: str,
        content_type: str | None = None,
        *,
        channel: FakeChannel | None = None,
    ) -> dict[str, Any]:
        """Put a user's upload on the CDN; return its attachment object (id, size, url, proxy_url, ...).

        Without ``channel`` it is an upload to a command option or a modal (an ephemeral attachment).
        """
        file = self._store_file(channel, filename, data, content_type=content_type, ephemeral=channel is None)
        return file.attachment

    def _store_file(
        self,
        channel: FakeChannel | None,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        ephemeral: bool = False,
    ) -> FakeFile:
        if not self.base_url:
            raise RuntimeError("start the fake before adding files (their URLs need its port)")
        file_id = snowflake()
        safe = re.sub(r"[^\w.-]", "_", filename) or "unknown"
        kind = content_type or guess_content_type(safe, data)
        if ephemeral:
            path = f"/ephemeral-attachments/{self.application_id}/{file_id}/{safe}"
        else:
            path = f"/attachments/{channel.id if channel else 0}/{file_id}/{safe}"
        now = int(time.time())
        signature = f"?ex={now + 86400:x}&is={now:x}&hm={secrets.token_hex(32)}&"
        attachment: dict[str, Any] = {
            "id": str(file_id),
            "filename": safe,
            "size": len(data),
            "url": f"{self.base_url}{path}{signature}",
            "proxy_url": f"{self.base_url}/media{path}{signature}",
            "content_type": kind,
        }
        size = image_size(data, kind)
        if size is not None:
            attachment["width"], attachment["height"] = size
        if ephemeral:
            attachment["ephemeral"] = True
        file = FakeFile(safe, kind, data, attachment)
        self.cdn[path] = file
        self._files[file_id] = file
        return file

    def file(self, attachment: dict[str, Any]) -> FakeFile:
        """The stored file behind an attachment object."""
        return self._files[int(attachment["id"])]

    # -- the application and its commands --------------------------------------------------------------

    def application_payload(self) -> dict[str, Any]:
        """The application object (``GET /oauth2/applications/@me``)."""
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "bot": self.bot_user.payload(),
            "owner": self.app_owner.payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
            "approximate_guild_count": len(self.guilds),
        }

    def command(self, name: str, *, guild: FakeGuild | None = None, type: int = 1) -> dict[str, Any] | None:
        """A synced command as stored (``guild=None``: the global one); ``type`` 1 chat, 2 user, 3 message."""
        commands = self.commands_synced.get(None if guild is None else guild.id, [])
        return next((c for c in commands if (c["name"], c["type"]) == (name, type)), None)

    def find_command(
        self, name: str, kind: int, user: FakeUser, channel: FakeChannel, *, check_permissions: bool
    ) -> tuple[dict[str, Any], int | None]:
        """The command a user in ``channel`` would see (guild commands first), and its guild scope.

        LookupError when it was never synced there or is not offered in this context; PermissionError when
        ``default_member_permissions`` hides it from this member.
        """
        guild = channel.guild
        for scope in [guild.id, None] if guild is not None else [None]:
            for command in self.commands_synced.get(scope, []):
                if command["name"] == name and command["type"] == kind:
                    self._check_available(command, user, channel, check_permissions)
                    return command, scope
        synced = {scope: [c["name"] for c in commands] for scope, commands in self.commands_synced.items()}
        raise LookupError(f"no command {name!r} of type {kind} was synced for this channel; synced: {synced}")

    @staticmethod
    def _check_available(command: dict[str, Any], user: FakeUser, channel: FakeChannel, check: bool) -> None:
        contexts = command.get("contexts")
        if channel.guild is None:
            if (contexts is not None and 1 not in contexts) or command.get("dm_permission") is False:
                raise LookupError(f"command {command['name']!r} is not available in DMs")
            return
        if contexts is not None and 0 not in contexts:
            raise LookupError(f"command {command['name']!r} is not available in guilds")
        needed = command.get("default_member_permissions")
        if needed is None or not check:
            return
        granted, needed = channel.guild.member(user).permissions, int(needed)
        if not granted & Perm.ADMINISTRATOR and (needed == 0 or granted & needed != needed):
            raise PermissionError(
                f"{user.username} cannot see {command['name']!r} (needs permissions {needed})"
            )
