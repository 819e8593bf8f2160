"""Effective limits: the settings' defaults with what admins and owners stored in the database on top.

Which scopes an edit draws on (all reserved together in one transaction by ``Store.create_job``):

    private chat:  user (personal)                        + global
    community:     member (the user there) + community    + global

Limits, most specific first:

    user       user override  -> EDITBOT_USER_QUOTA
    member     member override -> the community's "members" override -> EDITBOT_USER_QUOTA
    community  community override -> EDITBOT_COMMUNITY_QUOTA
    global     global override -> EDITBOT_GLOBAL_QUOTA -> none (counted, never refused)

The global counter is kept whether or not a cap is set, so a cap set in the middle of a period
applies to what was already spent. Blocks are checked here, before anything is reserved; a block
racing an edit by milliseconds may let that one edit through, which is not a quota question.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core import errors
from core.events import Origin
from core.identity import Community, UserKey
from core.quotas.rules import QuotaPolicy
from core.storage.protocol import QuotaScope, Store, community_scope_key, member_scope_key, user_scope_key

GLOBAL_KEY = "all"
"""Key of the one ``global`` scope."""

EVERYWHERE = "*"
"""The ``where`` of a block that applies in every community and in private chats."""


class LimitKind(StrEnum):
    """What a stored limit override applies to (``quota_limits.scope_kind``)."""

    USER = "user"  # key: user_scope_key — one user's personal quota (private chats)
    MEMBER = "member"  # key: member_scope_key — one member in one community
    MEMBERS = "members"  # key: community_scope_key — the default for every member of a community
    COMMUNITY = "community"  # key: community_scope_key — the community's pool
    GLOBAL = "global"  # key: GLOBAL_KEY — all edits of the bot together


@dataclass(frozen=True, slots=True)
class Resolution:
    """The scopes an edit would draw on, and where the user is blocked (None: not blocked)."""

    scopes: tuple[QuotaScope, ...]
    blocked: str | None = None  # "community" or "everywhere"


class LimitResolver:
    """Resolves an origin's scopes and limits from the store, with ``policy`` as the defaults."""

    def __init__(self, store: Store, policy: QuotaPolicy) -> None:
        self._store = store
        self.policy = policy

    async def scopes(self, origin: Origin) -> tuple[QuotaScope, ...]:
        """The scopes an edit from ``origin`` reserves; raises :class:`core.errors.Blocked`."""
        resolved = await self.resolve(origin.user, origin.community)
        if resolved.blocked == "everywhere":
            raise errors.BlockedEverywhere()
        if resolved.blocked is not None:
            raise errors.Blocked()
        return resolved.scopes

    async def resolve(self, user: UserKey, community: Community | None) -> Resolution:
        """Scopes with their effective limits, and the user's block, for ``user`` in ``community``."""
        policy = self.policy
        glob = (LimitKind.GLOBAL.value, GLOBAL_KEY)
        who = (str(user.platform), user.user_id)
        if community is None:
            own = (LimitKind.USER.value, user_scope_key(user))
            found, blocks = await self._store.limits_and_blocks([own, glob], *who)
            scopes = [QuotaScope("user", own[1], found.get(own, policy.user_limit))]
        else:
            ckey = community_scope_key(community)
            member = (LimitKind.MEMBER.value, member_scope_key(community, user))
            members = (LimitKind.MEMBERS.value, ckey)
            pool = (LimitKind.COMMUNITY.value, ckey)
            found, blocks = await self._store.limits_and_blocks([member, members, pool, glob], *who)
            member_limit = found.get(member, found.get(members, policy.user_limit))
            scopes = [
                QuotaScope("member", member[1], member_limit),
                QuotaScope("community", ckey, found.get(pool, policy.community_limit)),
            ]
        scopes.append(QuotaScope("global", GLOBAL_KEY, found.get(glob, policy.global_limit)))
        blocked = None
        if EVERYWHERE in blocks:
            blocked = "everywhere"
        elif community is not None and community_scope_key(community) in blocks:
            blocked = "community"
        return Resolution(tuple(scopes), blocked)
