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
from core.quotas.rules import LimitKind as LimitKind  # its home is the rules; imported from here too
from core.quotas.rules import QuotaPolicy
from core.storage.protocol import QuotaScope, Store, community_scope_key, member_scope_key, user_scope_key

GLOBAL_KEY = "all"
"""Key of the one ``global`` scope."""

EVERYWHERE = "*"
"""The ``where`` of a block that applies in every community and in private chats."""


COMMUNITY_KINDS = frozenset({LimitKind.COMMUNITY, LimitKind.MEMBERS, LimitKind.MEMBER})
"""Limits that belong to a community (set there; their audit rows name it)."""


class BlockScope(StrEnum):
    """Where a block applies (the ``where`` of an audit entry; ``usage_blocked_<scope>`` messages)."""

    COMMUNITY = "community"  # stored under the community's scope key
    EVERYWHERE = "everywhere"  # stored under :data:`EVERYWHERE`


@dataclass(frozen=True, slots=True)
class Resolution:
    """The scopes an edit would draw on, by name, and where the user is blocked (None: not blocked)."""

    own: QuotaScope  # the user's personal quota (private chat) or their member quota (community)
    pool: QuotaScope | None  # the community's pool; None in a private chat
    everyone: QuotaScope  # the bot-wide counter (limit None: no cap)
    blocked: BlockScope | None = None

    @property
    def scopes(self) -> tuple[QuotaScope, ...]:
        """All of them, in the order they are reserved: own, pool (in a community), global."""
        middle = (self.pool,) if self.pool is not None else ()
        return (self.own, *middle, self.everyone)


class LimitResolver:
    """Resolves an origin's scopes and limits from the store, with ``policy`` as the defaults."""

    def __init__(self, store: Store, policy: QuotaPolicy) -> None:
        self._store = store
        self.policy = policy

    async def scopes(self, origin: Origin) -> tuple[QuotaScope, ...]:
        """The scopes an edit from ``origin`` reserves; raises :class:`core.errors.Blocked`."""
        resolved = await self.resolve(origin.user, origin.community)
        if resolved.blocked is BlockScope.EVERYWHERE:
            raise errors.BlockedEverywhere()
        if resolved.blocked is not None:
            raise errors.Blocked()
        return resolved.scopes

    async def resolve(self, user: UserKey, community: Community | None) -> Resolution:
        """Scopes with their effective limits, and the user's block, for ``user`` in ``community``."""
        policy = self.policy
        glob = (LimitKind.GLOBAL.value, GLOBAL_KEY)
        who = (str(user.platform), user.user_id)
        pool: QuotaScope | None = None
        if community is None:
            mine = (LimitKind.USER.value, user_scope_key(user))
            found, blocks = await self._store.limits_and_blocks([mine, glob], *who)
            own = QuotaScope(LimitKind.USER, mine[1], found.get(mine, policy.user_limit))
        else:
            ckey = community_scope_key(community)
            member = (LimitKind.MEMBER.value, member_scope_key(community, user))
            members = (LimitKind.MEMBERS.value, ckey)
            shared = (LimitKind.COMMUNITY.value, ckey)
            found, blocks = await self._store.limits_and_blocks([member, members, shared, glob], *who)
            member_limit = found.get(member, found.get(members, policy.user_limit))
            own = QuotaScope(LimitKind.MEMBER, member[1], member_limit)
            pool = QuotaScope(LimitKind.COMMUNITY, ckey, found.get(shared, policy.community_limit))
        everyone = QuotaScope(LimitKind.GLOBAL, GLOBAL_KEY, found.get(glob, policy.global_limit))
        blocked = None
        if EVERYWHERE in blocks:
            blocked = BlockScope.EVERYWHERE
        elif community is not None and community_scope_key(community) in blocks:
            blocked = BlockScope.COMMUNITY
        return Resolution(own, pool, everyone, blocked)
