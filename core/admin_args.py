"""The words of admin commands: amounts, limits, what a limit applies to, and textual targets.

Grammar (names are case-insensitive; ``TARGET`` comes from the adapter — a reply, a mention, a
Discord user option — or is written as ``platform:id``, e.g. ``telegram:123``, or on Discord as a
raw mention ``<@123>``):

    /limits [TARGET]
    /setlimit community|members|member|user|global N|off [TARGET]
    /grant N TARGET            /take N TARGET
    /resetusage TARGET | community | global
    /block TARGET [everywhere]   /unblock TARGET [everywhere]
    /audit [N]
    /stats

``N`` is a whole number; ``off`` returns a limit to its default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core import errors
from core.identity import Platform, UserKey

MAX_CREDITS = 1_000_000
"""The largest limit or grant an admin can write (keeps sums far from integer overflow)."""

LIMIT_TARGETS = ("community", "members", "member", "user", "global")
"""What ``/setlimit`` can change (``core.quotas.limits.LimitKind`` values)."""

EVERYWHERE_WORDS = frozenset({"everywhere", "all", "global"})
"""Words asking a block to apply in every chat."""

OFF_WORDS = frozenset({"off", "default", "reset", "none"})
"""Words removing a limit override."""

_PLATFORMS = frozenset(p.value for p in Platform)
_DISCORD_MENTION = re.compile(r"^<@!?(\d+)>$")


@dataclass(frozen=True, slots=True)
class Words:
    """An admin command's arguments with any ``platform:id`` target taken out."""

    words: tuple[str, ...]
    target: UserKey | None


def split(args: str, platform: Platform) -> Words:
    """Lower-cased words, and a ``platform:id`` target among them (of ``platform`` only)."""
    words: list[str] = []
    target: UserKey | None = None
    for word in args.split():
        head, sep, _ = word.partition(":")
        mention = _DISCORD_MENTION.match(word) if platform is Platform.DISCORD else None
        if mention is None and not (sep and head.lower() in _PLATFORMS):
            words.append(word.lower())
            continue
        try:
            key = UserKey(platform, mention[1]) if mention else UserKey.parse(word)
        except ValueError:
            raise errors.BadCommand("bad target") from None
        if key.platform is not platform or target is not None:
            raise errors.BadCommand("bad target")
        target = key
    return Words(tuple(words), target)


def amount(word: str, *, allow_zero: bool = False) -> int:
    """A whole number of credits from 1 (or 0) to :data:`MAX_CREDITS`."""
    if not word.isdigit() or len(word) > 7:
        raise errors.BadCommand("not a number")
    value = int(word)
    if value > MAX_CREDITS or (value == 0 and not allow_zero):
        raise errors.BadCommand("out of range")
    return value


def limit_value(word: str) -> int | None:
    """A limit: a number (0 allowed: nothing at all), or None for ``off``."""
    if word in OFF_WORDS:
        return None
    return amount(word, allow_zero=True)


@dataclass(frozen=True, slots=True)
class SetLimit:
    """A parsed ``/setlimit``: what (``LIMIT_TARGETS``), and the new limit (None: back to default)."""

    what: str | None
    limit: int | None


def parse_setlimit(words: tuple[str, ...]) -> SetLimit:
    """``[what] N|off`` (``what`` may be left to the caller to infer from a target)."""
    if len(words) == 2 and words[0] in LIMIT_TARGETS:
        return SetLimit(words[0], limit_value(words[1]))
    if len(words) == 1:
        return SetLimit(None, limit_value(words[0]))
    raise errors.BadCommand("bad arguments")


def parse_amount(words: tuple[str, ...]) -> int:
    """``N`` for ``/grant`` and ``/take``."""
    if len(words) != 1:
        raise errors.BadCommand("bad arguments")
    return amount(words[0])


def parse_count(words: tuple[str, ...], default: int, maximum: int) -> int:
    """An optional ``N`` (``/audit``), at most ``maximum``."""
    if not words:
        return default
    if len(words) != 1:
        raise errors.BadCommand("bad arguments")
    return min(maximum, amount(words[0]))


def wants_everywhere(words: tuple[str, ...]) -> bool:
    """``/block TARGET everywhere``; any other word is an error."""
    if not words:
        return False
    if len(words) == 1 and words[0] in EVERYWHERE_WORDS:
        return True
    raise errors.BadCommand("bad arguments")
