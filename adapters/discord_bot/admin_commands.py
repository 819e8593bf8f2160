"""The admin slash commands: ``/limits``, ``/setlimit``, ``/grant``, ``/take``, ``/resetusage``,
``/block``, ``/unblock``, ``/audit`` and ``/stats``. Each turns its typed options into the typed
command of :mod:`core.admin_commands` (never into words the core would parse back), and hands it
to the engine in one :class:`core.events.AdminCommand`.

Top-level commands rather than one ``/quota`` group: the names are the core's command names, which
its replies quote ("only this server's admins can use /grant", usage hints), and the same as on
Telegram, so an admin of both finds the same words. And Discord honours default permissions only
on top-level commands (a group's apply to all its subcommands), which the next paragraph relies on.

Every one is marked ``default_member_permissions = Manage Server``, so Discord shows them only to
members who have it (server admins may grant them to other roles or people, a bot owner say, under
Server Settings → Integrations). That is a courtesy of the client, not the check: whoever invokes
one anyway reaches the core, which decides from :attr:`core.events.Origin.role` and EDITBOT_ADMINS
and refuses politely. Discord applies no member permissions in DMs, where everyone sees them and
only bot owners get more than a refusal.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice

from adapters.discord_bot.commands import text
from adapters.discord_bot.handlers import DiscordHandlers
from core.admin_commands import (
    AUDIT_DEFAULT,
    AUDIT_MAX,
    LIMIT_CHOICES,
    MAX_CREDITS,
    AdminRequest,
    ChangeCredits,
    ResetScope,
    ResetUsage,
    SetBlock,
    SetLimit,
    ShowAudit,
    ShowLimits,
    ShowStats,
    Target,
)
from core.events import AdminCommand
from core.identity import Platform, UserKey
from core.quotas.limits import LimitKind

RESET_SCOPES = (ResetScope.COMMUNITY, ResetScope.GLOBAL)
VALUE_MAX = 16  # "1000000" or "off"; longer input is a mistake the core would refuse anyway

# Option types, at module level because discord.py resolves the callbacks' (string) annotations
# in the module's globals. Discord's client enforces the ranges; the core checks them again.
Member = discord.Member | discord.User
Credits = app_commands.Range[int, 1, MAX_CREDITS]
Count = app_commands.Range[int, 1, AUDIT_MAX]
Value = app_commands.Range[str, 1, VALUE_MAX]


def target_of(member: Member | None) -> Target | None:
    """The member option as the core's target, named as the server shows them."""
    if member is None:
        return None
    return Target(UserKey(Platform.DISCORD, str(member.id)), member.display_name)


def admin_command(request: AdminRequest) -> AdminCommand:
    """The event that carries ``request`` to the engine."""
    return AdminCommand(request.name, request=request)


def _choices(keys: tuple[str, ...], prefix: str) -> list[Choice[str]]:
    return [Choice(name=text(f"{prefix}{key}"), value=key) for key in keys]


def install_admin_commands(tree: app_commands.CommandTree[Any], handlers: DiscordHandlers) -> None:
    """Add the admin commands to ``tree``."""
    hidden = app_commands.default_permissions(manage_guild=True)

    @app_commands.command(name="limits", description=text("command_limits"))
    @app_commands.describe(member=text("discord_option_limits_member"))
    @hidden
    async def limits(interaction: discord.Interaction[Any], member: Member | None = None) -> None:
        await handlers.admin(interaction, admin_command(ShowLimits(target_of(member))))

    @app_commands.command(name="setlimit", description=text("command_setlimit"))
    @app_commands.describe(
        scope=text("discord_option_setlimit_scope"),
        value=text("discord_option_setlimit_value"),
        member=text("discord_option_setlimit_member"),
    )
    @app_commands.choices(scope=_choices(LIMIT_CHOICES, "discord_scope_"))
    @hidden
    async def setlimit(
        interaction: discord.Interaction[Any], scope: str, value: Value, member: Member | None = None
    ) -> None:
        request = SetLimit(LimitKind(scope), value, target_of(member))
        await handlers.admin(interaction, admin_command(request))

    @app_commands.command(name="grant", description=text("command_grant"))
    @app_commands.describe(amount=text("discord_option_amount"), member=text("discord_option_grant_member"))
    @hidden
    async def grant(interaction: discord.Interaction[Any], amount: Credits, member: Member) -> None:
        await handlers.admin(interaction, admin_command(ChangeCredits(amount, target_of(member))))

    @app_commands.command(name="take", description=text("command_take"))
    @app_commands.describe(amount=text("discord_option_amount"), member=text("discord_option_take_member"))
    @hidden
    async def take(interaction: discord.Interaction[Any], amount: Credits, member: Member) -> None:
        await handlers.admin(
            interaction, admin_command(ChangeCredits(amount, target_of(member), taking=True))
        )

    @app_commands.command(name="resetusage", description=text("command_resetusage"))
    @app_commands.describe(
        member=text("discord_option_resetusage_member"), scope=text("discord_option_resetusage_scope")
    )
    @app_commands.choices(scope=_choices(RESET_SCOPES, "discord_reset_"))
    @hidden
    async def resetusage(
        interaction: discord.Interaction[Any], member: Member | None = None, scope: str | None = None
    ) -> None:
        await handlers.admin(
            interaction, admin_command(ResetUsage(ResetScope(scope or ResetScope.OWN), target_of(member)))
        )

    @app_commands.command(name="block", description=text("command_block"))
    @app_commands.describe(
        member=text("discord_option_block_member"), everywhere=text("discord_option_everywhere")
    )
    @hidden
    async def block(interaction: discord.Interaction[Any], member: Member, everywhere: bool = False) -> None:
        await handlers.admin(interaction, admin_command(SetBlock(target_of(member), True, everywhere)))

    @app_commands.command(name="unblock", description=text("command_unblock"))
    @app_commands.describe(
        member=text("discord_option_unblock_member"), everywhere=text("discord_option_everywhere")
    )
    @hidden
    async def unblock(
        interaction: discord.Interaction[Any], member: Member, everywhere: bool = False
    ) -> None:
        await handlers.admin(interaction, admin_command(SetBlock(target_of(member), False, everywhere)))

    @app_commands.command(name="audit", description=text("command_audit"))
    @app_commands.describe(count=text("discord_option_count"))
    @hidden
    async def audit(interaction: discord.Interaction[Any], count: Count | None = None) -> None:
        await handlers.admin(interaction, admin_command(ShowAudit(count or AUDIT_DEFAULT)))

    @app_commands.command(name="stats", description=text("command_stats"))
    @hidden
    async def stats(interaction: discord.Interaction[Any]) -> None:
        await handlers.admin(interaction, admin_command(ShowStats()))

    commands: list[app_commands.Command[Any, ..., None]] = [
        limits,
        setlimit,
        grant,
        take,
        resetusage,
        block,
        unblock,
        audit,
        stats,
    ]
    for command in commands:
        tree.add_command(command)
