"""Admin commands as typed values, and the chat's words for them.

Three front ends produce the same commands: chat text (:func:`parse`, for Telegram and the
console), Discord's slash-command options (``adapters/discord_bot/admin_commands.py``) and the
``editbot quota`` command line (``bots/commands/quota.py``). :class:`core.admin.AdminService`
handles them all.

The chat grammar (names are case-insensitive; ``TARGET`` comes from the adapter — a reply, a
mention, a user option — or is written ``platform:id``, e.g. ``telegram:123``):

    /limits [TARGET]
    /setlimit community|members|member|user|global N|off [TARGET]
    /grant N TARGET            /take N TARGET
    /resetusage TARGET | community | global
    /block TARGET [everywhere]   /unblock TARGET [everywhere]
    /audit [N]
    /stats

``N`` is a whole number; ``off`` returns a limit to its default. A command's target is optional
in its type where the service must decide what its absence means (``/limits``), or must refuse
it in the order the permission rules say (the caller's rights before the missing member).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core import errors
from core.identity import Platform, UserKey
from core.quotas.limits import LimitKind

MAX_CREDITS = 1_000_000
"""The largest limit or grant an admin can write (keeps sums far from integer overflow)."""

AUDIT_DEFAULT = 10
AUDIT_MAX = 50

EVERYWHERE_WORDS = frozenset({"everywhere", "all", "global"})
"""Words asking a block to apply in every chat."""

OFF_WORDS = frozenset({"off", "default", "reset", "none"})
"""Words removing a limit override."""

LIMIT_CHOICES = (LimitKind.COMMUNITY, LimitKind.MEMBERS, LimitKind.MEMBER, LimitKind.USER, LimitKind.GLOBAL)
"""What ``/setlimit`` can change, in the order menus and help list them (widest first)."""

_PLATFORMS = frozenset(p.value for p in Platform)


class ResetScope(StrEnum):
    """Whose usage ``/resetusage`` sets back to 0."""

    OWN = "own"  # the target's own counter (member here, or personal in a private chat)
    COMMUNITY = "community"  # the community's pool
    GLOBAL = "global"  # the bot-wide counter


@dataclass(frozen=True, slots=True)
class Target:
    """The member a command acts on, and how replies name them."""

    user: UserKey
    name: str | None = None

    @property
    def shown(self) -> str:
        """The name, or the platform id when there is none."""
        return self.name or self.user.user_id


@dataclass(frozen=True, slots=True)
class ShowLimits:
    """``/limits``: a member's quota, or the community's (or the bot's) limits."""

    target: Target | None = None
    name = "limits"


@dataclass(frozen=True, slots=True)
class SetLimit:
    """``/setlimit``: ``what`` (None: the target's own quota) to ``value`` as written: a number of
    credits, or ``off`` for the default.

    The value stays written until the service reads :attr:`limit`, after the caller's rights are
    checked: a refusal comes first, whatever was typed (Discord's option and the CLI's argument
    are free text too).
    """

    what: LimitKind | None
    value: str
    target: Target | None = None
    name = "setlimit"

    @property
    def limit(self) -> int | None:
        """The new limit (None: back to the default); :class:`core.errors.BadCommand` if unreadable."""
        return limit_value(self.value)


@dataclass(frozen=True, slots=True)
class ChangeCredits:
    """``/grant`` (or ``/take``, ``taking``): extra credits for the target this period."""

    credits: int
    target: Target | None = None
    taking: bool = False

    @property
    def name(self) -> str:
        """The command's name."""
        return "take" if self.taking else "grant"


@dataclass(frozen=True, slots=True)
class ResetUsage:
    """``/resetusage``: a counter of this period back to 0."""

    scope: ResetScope = ResetScope.OWN
    target: Target | None = None
    name = "resetusage"


@dataclass(frozen=True, slots=True)
class SetBlock:
    """``/block`` (``/unblock``, not ``blocking``): here, or ``everywhere``."""

    target: Target | None = None
    blocking: bool = True
    everywhere: bool = False

    @property
    def name(self) -> str:
        """The command's name."""
        return "block" if self.blocking else "unblock"


@dataclass(frozen=True, slots=True)
class ShowAudit:
    """``/audit``: the latest ``count`` changes."""

    count: int = AUDIT_DEFAULT
    name = "audit"


@dataclass(frozen=True, slots=True)
class ShowStats:
    """``/stats``: the period's totals, the top members and a chart of edits per day."""

    name = "stats"


AdminRequest = ShowLimits | SetLimit | ChangeCredits | ResetUsage | SetBlock | ShowAudit | ShowStats
"""Every admin command."""

ADMIN_COMMANDS = frozenset(
    {"limits", "setlimit", "grant", "take", "resetusage", "block", "unblock", "audit", "stats"}
)
"""Command names the engine hands to :class:`core.admin.AdminService`."""


# -- the chat's words ----------------------------------------------------------------------------


def parse(name: str, args: str, platform: Platform, target: Target | None = None) -> AdminRequest:
    """The command ``name`` with the words ``args`` (``target``: the member the adapter found).

    Raises :class:`core.errors.BadCommand` (naming the command) for words that do not fit.
    """
    words, written = _split(name, args, platform)
    if written is not None and target is None:
        target = Target(written)
    if target is not None and target.user.platform is not platform:
        raise errors.BadCommand("target on another platform", command=name)
    match name:
        case "limits":
            return ShowLimits(target)
        case "setlimit":
            return _setlimit(words, target)
        case "grant" | "take":
            return ChangeCredits(_one_amount(name, words), target, taking=name == "take")
        case "resetusage":
            return ResetUsage(_reset_scope(words), target)
        case "block" | "unblock":
            # Without a member the service says so; the words are not worth judging then.
            everywhere = target is not None and _everywhere(name, words)
            return SetBlock(target, blocking=name == "block", everywhere=everywhere)
        case "audit":
            return ShowAudit(_count(words))
        case "stats":
            return ShowStats()
    raise ValueError(f"not an admin command: {name!r}")


def amount(word: str, *, allow_zero: bool = False, command: str = "") -> int:
    """A whole number of credits from 1 (or 0) to :data:`MAX_CREDITS`."""
    if not word.isdigit() or len(word) > 7:
        raise errors.BadCommand("not a number", command=command)
    value = int(word)
    if value > MAX_CREDITS or (value == 0 and not allow_zero):
        raise errors.BadCommand("out of range", command=command)
    return value


def limit_value(word: str) -> int | None:
    """A limit: a number (0 allowed: nothing at all), or None for ``off``."""
    word = word.strip().lower()
    if word in OFF_WORDS:
        return None
    return amount(word, allow_zero=True, command="setlimit")


def _split(name: str, args: str, platform: Platform) -> tuple[tuple[str, ...], UserKey | None]:
    """Lower-cased words, and a ``platform:id`` target among them (of ``platform`` only)."""
    words: list[str] = []
    target: UserKey | None = None
    for word in args.split():
        head, sep, _ = word.partition(":")
        if not (sep and head.lower() in _PLATFORMS):
            words.append(word.lower())
            continue
        try:
            key = UserKey.parse(word)
        except ValueError:
            raise errors.BadCommand("bad target", command=name) from None
        if key.platform is not platform or target is not None:
            raise errors.BadCommand("bad target", command=name)
        target = key
    return tuple(words), target


def _setlimit(words: tuple[str, ...], target: Target | None) -> SetLimit:
    """``[what] N|off``; without ``what``, the target's own quota."""
    kinds = {kind.value: kind for kind in LimitKind}
    if len(words) == 2 and words[0] in kinds:
        return SetLimit(kinds[words[0]], words[1], target)
    if len(words) == 1 and target is not None:
        return SetLimit(None, words[0], target)
    if len(words) == 1:
        limit_value(words[0])  # a bad number is the first thing to say
        raise errors.BadCommand("what to limit", command="setlimit")
    raise errors.BadCommand("bad arguments", command="setlimit")


def _one_amount(name: str, words: tuple[str, ...]) -> int:
    if len(words) != 1:
        raise errors.BadCommand("bad arguments", command=name)
    return amount(words[0], command=name)


def _reset_scope(words: tuple[str, ...]) -> ResetScope:
    """``community`` and ``global`` win over a target (a reply the command happened to be sent in)."""
    if not words:
        return ResetScope.OWN
    if words in (("community",), ("global",)):
        return ResetScope(words[0])
    raise errors.BadCommand("bad arguments", command="resetusage")


def _count(words: tuple[str, ...]) -> int:
    """An optional ``N`` (``/audit``), at most :data:`AUDIT_MAX`."""
    if not words:
        return AUDIT_DEFAULT
    if len(words) != 1:
        raise errors.BadCommand("bad arguments", command="audit")
    return min(AUDIT_MAX, amount(words[0], command="audit"))


def _everywhere(name: str, words: tuple[str, ...]) -> bool:
    """``/block TARGET everywhere``; any other word is an error."""
    if not words:
        return False
    if len(words) == 1 and words[0] in EVERYWHERE_WORDS:
        return True
    raise errors.BadCommand("bad arguments", command=name)
