"""Interactions as the fake dispatches them, and the handle a test holds to watch the bot answer one.

Invariants: an interaction's token works for webhooks until ``expire()`` or the fake's ``token_lifetime``; its
callback is accepted once, within ``initial_response_deadline``; ``original`` is the message the callback
created (types 4/5) or the component's message (types 6/7). Option and modal payloads are built from what the
bot actually registered (synced commands, the modal it sent), so a test cannot send what Discord's client
never would.
"""

# ASYNC109: ``timeout`` here is the deadline of a test-facing wait, not a cancel scope the caller should own.
# ruff: noqa: ASYNC109

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.discord_models import (
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
)

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

# Interaction types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
# Interaction callback types
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9

# Application command option types
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE = 1, 2, 3, 4, 5, 6, 7, 8
MENTIONABLE, NUMBER, ATTACHMENT = 9, 10, 11
_SELECTS = {3, 5, 6, 7, 8}


@dataclass(eq=False)
class FakeInteraction:
    """One dispatched interaction and everything the bot did with it."""

    fake: FakeDiscord
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    user: FakeUser
    channel: FakeChannel
    created_at: float
    source_message: FakeMessage | None = None
    acknowledged: bool = False
    response_type: int | None = None
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    original: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    expired: bool = False

    @property
    def guild(self) -> FakeGuild | None:
        """The guild it happened in, or ``None`` in a DM."""
        return self.channel.guild

    @property
    def data(self) -> dict[str, Any]:
        """The ``data`` object that was dispatched."""
        data: dict[str, Any] = self.payload.get("data", {})
        return data

    @property
    def deferred(self) -> bool:
        """Whether the bot answered with a defer (type 5 or 6)."""
        return self.response_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE)

    @property
    def token_expired(self) -> bool:
        """Whether webhook calls with this token now fail with 401 Invalid Webhook Token."""
        return self.expired or self.fake._now() > self.created_at + self.fake.token_lifetime

    @property
    def callback_expired(self) -> bool:
        """Whether the callback now fails with 404 Unknown interaction."""
        deadline = self.fake.initial_response_deadline
        late = deadline is not None and self.fake._now() > self.created_at + deadline
        return self.token_expired or late

    def expire(self) -> None:
        """Expire the token now (as if 15 minutes had passed)."""
        self.expired = True

    async def wait_for_response(
        self, predicate: Callable[[FakeInteraction], Any] | None = None, timeout: float = 5.0
    ) -> FakeInteraction:
        """Wait until the bot acknowledged this interaction and ``predicate(self)`` holds; return ``self``."""
        await self.fake.wait_for(
            lambda: self.acknowledged and (predicate is None or predicate(self)),
            timeout,
            f"a response to interaction {self.id} ({self.describe()})",
        )
        return self

    async def wait_for_original(
        self, predicate: Callable[[FakeMessage], Any] | None = None, timeout: float = 5.0
    ) -> FakeMessage:
        """Wait until the original response exists and ``predicate(original)`` holds; returns it."""

        def ready() -> FakeMessage | None:
            original = self.original
            if original is not None and (predicate is None or predicate(original)):
                return original
            return None

        return await self.fake.wait_for(ready, timeout, f"the original response of {self.describe()}")

    async def wait_for_followup(
        self, predicate: Callable[[FakeMessage], Any] | None = None, timeout: float = 5.0
    ) -> FakeMessage:
        """Wait for a followup message matching ``predicate``; returns the newest such one."""

        def ready() -> FakeMessage | None:
            found = [m for m in self.followups if predicate is None or predicate(m)]
            return found[-1] if found else None

        return await self.fake.wait_for(ready, timeout, f"a followup to {self.describe()}")

    async def submit_modal(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        user: FakeUser | None = None,
        locale: str | None = None,
    ) -> FakeInteraction:
        """Fill in and submit the modal the bot answered with; ``values`` maps component custom ids to input.

        Text inputs take ``str``, selects ``list[str]``, file uploads a list of attachments from
        :meth:`FakeDiscord.add_attachment`, checkboxes ``bool``. Unset text inputs keep their default.
        """
        if self.modal is None:
            raise RuntimeError(
                f"the bot did not answer {self.describe()} with a modal (response {self.response_type})"
            )
        components, attachments = build_modal_submission(self.modal["components"], dict(values or {}))
        return await self.fake.modal_submit(
            self.modal["custom_id"],
            components,
            user=user or self.user,
            channel=self.channel,
            message=self.source_message,
            attachments=attachments,
            locale=locale,
        )

    async def press(
        self, custom_id: str | None = None, *, label: str | None = None, **kwargs: Any
    ) -> FakeInteraction:
        """Press a button on this interaction's original response (by custom id or label)."""
        message = await self.wait_for_original()
        button = message.button(label=label, custom_id=custom_id)
        return await self.fake.button_press(
            message, button["custom_id"], user=kwargs.pop("user", self.user), **kwargs
        )

    def describe(self) -> str:
        """A short human description for failure messages."""
        kind = {1: "ping", 2: "command", 3: "component", 4: "autocomplete", 5: "modal submit"}[self.type]
        name = self.data.get("name") or self.data.get("custom_id") or "?"
        return f"{kind} {name!r} by {self.user.username}"

    def __repr__(self) -> str:
        return f"<FakeInteraction {self.id} {self.describe()} response={self.response_type}>"


def attachment_payload(value: Any) -> dict[str, Any]:
    """An attachment object from what tests hold: the dict from ``add_attachment`` or a :class:`FakeFile`."""
    if isinstance(value, FakeFile):
        return dict(value.attachment)
    if isinstance(value, Mapping) and "url" in value:
        return dict(value)
    raise TypeError(f"expected an attachment from FakeDiscord.add_attachment, got {value!r}")


def build_command_options(
    command: dict[str, Any],
    path: list[str],
    values: Mapping[str, Any],
    guild: FakeGuild | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Typed ``options`` plus ``resolved`` for a chat command, following the synced definition."""
    resolved: dict[str, dict[str, Any]] = {}
    definitions = command.get("options") or []
    chain: list[dict[str, Any]] = []
    for name in path:
        sub = next(
            (o for o in definitions if o["name"] == name and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)),
            None,
        )
        if sub is None:
            raise LookupError(f"/{command['name']} has no subcommand {name!r}")
        chain.append({"type": sub["type"], "name": name})
        definitions = sub.get("options") or []
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in definitions):
        raise ValueError(f"/{command['name']} needs a subcommand: pass e.g. name='{command['name']} <sub>'")
    by_name = {o["name"]: o for o in definitions}
    unknown = set(values) - set(by_name)
    if unknown:
        raise KeyError(f"/{command['name']} has no options {sorted(unknown)}; it has {sorted(by_name)}")
    missing = [o["name"] for o in definitions if o.get("required") and o["name"] not in values]
    if missing:
        raise ValueError(f"/{command['name']} requires options {missing}")
    leaf = [_option(by_name[name], value, resolved, guild) for name, value in values.items()]
    for link in reversed(chain):
        link["options"] = leaf
        leaf = [link]
    return leaf, resolved


def _option(
    definition: dict[str, Any], value: Any, resolved: dict[str, dict[str, Any]], guild: FakeGuild | None
) -> Any:
    kind, name = definition["type"], definition["name"]
    option: dict[str, Any] = {"name": name, "type": kind}
    if kind == STRING:
        option["value"] = str(value)
    elif kind == INTEGER:
        option["value"] = int(value)
    elif kind == BOOLEAN:
        option["value"] = bool(value)
    elif kind == NUMBER:
        option["value"] = float(value)
    elif kind == ATTACHMENT:
        attachment = attachment_payload(value)
        resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        option["value"] = attachment["id"]
    elif kind in (USER, MENTIONABLE) and isinstance(value, FakeUser | FakeMember):
        user = value.user if isinstance(value, FakeMember) else value
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        member = guild.members.get(user.id) if guild is not None else None
        if member is not None:
            resolved.setdefault("members", {})[str(user.id)] = member.payload(
                with_user=False, with_permissions=True
            )
        option["value"] = str(user.id)
    elif kind in (ROLE, MENTIONABLE) and isinstance(value, FakeRole):
        resolved.setdefault("roles", {})[str(value.id)] = value.payload()
        option["value"] = str(value.id)
    elif kind == CHANNEL and isinstance(value, FakeChannel):
        channel = value.payload() | {"permissions": str((1 << 51) - 1)}
        resolved.setdefault("channels", {})[str(value.id)] = channel
        option["value"] = str(value.id)
    else:
        raise TypeError(f"option {name!r} (type {kind}) cannot take {value!r}")
    return option


def _walk_modal(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for component in components:
        yield component
        yield from _walk_modal(component.get("components", []))
        if isinstance(component.get("component"), dict):
            yield from _walk_modal([component["component"]])


def build_modal_submission(
    components: list[dict[str, Any]], values: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``data.components`` Discord sends for a submitted modal, and the uploaded attachments to resolve.

    Mirrors the modal's layout: action rows keep their text inputs, labels (type 18) wrap one ``component``,
    text displays (type 10) come back with their id only. Every component gets the sequential ``id`` Discord
    assigns.
    """
    inputs = [c for c in _walk_modal(components) if "custom_id" in c]
    unknown = set(values) - {c["custom_id"] for c in inputs}
    if unknown:
        raise KeyError(
            f"the modal has no inputs {sorted(unknown)}; it has {[c['custom_id'] for c in inputs]}"
        )
    counter = iter(range(1, 10_000))
    ids: dict[int, int] = {}
    for component in _walk_modal(components):
        ids[id(component)] = component.get("id") or next(counter)
    attachments: list[dict[str, Any]] = []

    def item(c: dict[str, Any]) -> dict[str, Any]:
        kind, custom_id = c["type"], str(c.get("custom_id", ""))
        out: dict[str, Any] = {"type": kind, "id": ids[id(c)]}
        if kind == 4:
            value = str(values.get(custom_id, c.get("value") or ""))
            if c.get("required", True) and not value:
                raise ValueError(f"text input {custom_id!r} is required")
            if len(value) > int(c.get("max_length") or 4000):
                raise ValueError(f"text input {custom_id!r} takes at most {c.get('max_length')} characters")
            out.update(custom_id=custom_id, value=value)
        elif kind in _SELECTS or kind == 22:
            out.update(custom_id=custom_id, values=[str(v) for v in values.get(custom_id, [])])
        elif kind == 19:
            files = [attachment_payload(a) for a in values.get(custom_id, [])]
            if c.get("required", True) and not files:
                raise ValueError(f"file upload {custom_id!r} is required")
            if len(files) > int(c.get("max_values") or 1):
                raise ValueError(f"file upload {custom_id!r} takes at most {c.get('max_values') or 1} files")
            attachments.extend(files)
            out.update(custom_id=custom_id, values=[a["id"] for a in files])
        elif kind == 21:
            out.update(custom_id=custom_id, value=values.get(custom_id))
        elif kind == 23:
            out.update(custom_id=custom_id, value=bool(values.get(custom_id, False)))
        elif custom_id:
            out["custom_id"] = custom_id
        return out

    submission: list[dict[str, Any]] = []
    for top in components:
        if top["type"] == 1:
            submission.append(
                {"type": 1, "id": ids[id(top)], "components": [item(c) for c in top["components"]]}
            )
        elif top["type"] == 18:
            submission.append({"type": 18, "id": ids[id(top)], "component": item(top["component"])})
        else:
            submission.append(item(top))
    return submission, attachments
