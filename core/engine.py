"""The conversation engine: the one call adapters make (``handle``), and the state machine behind it.

States (``core.storage.protocol.ConvState``) and what moves between them:

    IDLE --photo--> AWAITING_MASK_OR_PROMPT --photo (mask)--> AWAITING_PROMPT --text--> job, IDLE
                          |--/skip--> AWAITING_PROMPT          ^
                          '--text--> job, IDLE                  '-- "edit again" button
    any --photo with caption / EditSubmitted--> job, IDLE
    any --/cancel--> IDLE (and the user's running edits are cancelled and refunded)
    any --"retry" button--> CONFIRM_RETRY --"yes" button--> job, IDLE
    any --"full size" button--> the result's original files, free (no state change)
    AWAITING_* --drawing from the painter page--> AWAITING_PROMPT (the drawing is the mask)
    any --/draw (DrawRequested)--> AWAITING_MASK_OR_PROMPT, with a one-time painter link

State is stored per (platform, chat, user) after every event, so a restarted process or a
second one continues the same conversation. A conversation left alone longer than the timeout is
dropped, and the user is told the next time they write.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import overload

from core import errors, results
from core.actions import Action, Button, SendError, SendText, ShowDrawing, Text
from core.admin import ADMIN_COMMANDS, AdminService
from core.catalogue import BUILTIN_CATALOGUE, DEFAULT_MODEL, ModelCatalogue
from core.events import (
    AdminCommand,
    ButtonPressed,
    Command,
    DrawingReceived,
    DrawRequested,
    EditOptions,
    EditSubmitted,
    Event,
    ImageReceived,
    Origin,
    ReplyHandle,
    TextReceived,
)
from core.i18n import explain
from core.identity import UserKey
from core.jobs import JobRunner
from core.painter import LINK_TTL, Signer, is_drawing
from core.quotas.rules import LimitKind, format_time
from core.refs import ImageRef
from core.storage.protocol import Conversation, ConversationKey, ConvState, Job, Store
from core.validation import build_edit, check_image_meta


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """What the engine needs from the settings."""

    default_model: str = DEFAULT_MODEL
    allowed_models: tuple[str, ...] = (DEFAULT_MODEL,)
    catalogue: ModelCatalogue = BUILTIN_CATALOGUE
    conversation_timeout: float = 900.0
    max_input_bytes: int = 20 * 1024 * 1024
    owners: tuple[UserKey, ...] = ()  # EDITBOT_ADMINS: may run every admin command everywhere


@dataclass(frozen=True, slots=True)
class Reply(Sequence[Action]):
    """What handling one event did: the immediate replies, and the job it started, if any.

    ``job`` is set only when this event started an edit (its row stored, the platform's
    acknowledgement made); a refusal, a redelivered event and every other event start none.
    It is also a sequence of its actions, in order.
    """

    actions: tuple[Action, ...] = ()
    job: Job | None = None

    @property
    def started(self) -> bool:
        """True when the event started an edit."""
        return self.job is not None

    def __len__(self) -> int:
        return len(self.actions)

    def __iter__(self) -> Iterator[Action]:
        return iter(self.actions)

    @overload
    def __getitem__(self, index: int) -> Action: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Action]: ...
    def __getitem__(self, index: int | slice) -> Action | Sequence[Action]:
        return self.actions[index]


def _say(*actions: Action) -> Reply:
    """A reply that starts nothing."""
    return Reply(actions)


def error_action(origin: Origin, exc: errors.EditbotError) -> SendError:
    """The one way the engine tells a user about an exception: :func:`core.i18n.explain`'s words."""
    kind, details = explain(exc)
    return SendError(origin, kind, details)


Ack = Callable[[], Awaitable[None]] | None
"""How the platform acknowledges an event that starts an edit (see :meth:`ConversationEngine.handle`)."""


def conversation_key(origin: Origin) -> ConversationKey:
    """The stored conversation of this user in this chat."""
    return ConversationKey(str(origin.user.platform), origin.chat.chat_id, origin.user.user_id)


_USAGE_TEXTS = {LimitKind.COMMUNITY: "usage_community", LimitKind.GLOBAL: "usage_global"}
"""What /usage calls each counter (a member's or user's own: ``usage``)."""


class ConversationEngine:
    """Turns platform-neutral events into actions; starts jobs through the runner."""

    def __init__(
        self,
        store: Store,
        runner: JobRunner,
        config: EngineConfig | None = None,
        admin: AdminService | None = None,
        painter: Signer | None = None,
    ) -> None:
        self._store = store
        self._painter = painter  # None: no painter page (EDITBOT_WEB_URL unset)
        self.runner = runner
        self.config = config or EngineConfig()
        self.admin = admin or AdminService(store, runner.limits, owners=self.config.owners, clock=runner.now)
        self._locks: weakref.WeakValueDictionary[ConversationKey, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def _lock(self, key: ConversationKey) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def handle(
        self, origin: Origin, event: Event, *, acknowledge: Callable[[], Awaitable[None]] | None = None
    ) -> Reply:
        """Handle one event from one user; returns the immediate replies and the job started, if any.

        Results and progress of edits started here arrive later through the platform's outbox.
        Events of one conversation are handled one at a time, in order. ``acknowledge`` is called
        when the event started an edit, after its job was stored and before it runs (see
        :meth:`core.jobs.JobRunner.submit`); not at all when it started none.
        """
        key = conversation_key(origin)
        async with self._lock(key):
            conv, notices = await self._load(key)
            try:
                reply = await self._dispatch(origin, conv, event, acknowledge)
            except errors.EditbotError as exc:
                reply = _say(error_action(origin, exc))
            expired = tuple(SendText(origin, text) for text in notices)
            return replace(reply, actions=expired + reply.actions)

    async def _load(self, key: ConversationKey) -> tuple[Conversation, list[Text]]:
        conv = await self._store.get_conversation(key)
        if conv is None:
            return Conversation(key, ConvState.IDLE), []
        now = self.runner.now()
        if conv.updated_at is not None and now - conv.updated_at > timedelta(
            seconds=self.config.conversation_timeout
        ):
            await self._store.delete_conversation(key)
            minutes = max(1, round(self.config.conversation_timeout / 60))
            return Conversation(key, ConvState.IDLE), [Text("conversation_expired", {"minutes": minutes})]
        return conv, []

    async def _save(self, conv: Conversation) -> None:
        if conv.state is ConvState.IDLE:
            if conv.updated_at is None:
                return  # never stored (or already removed as expired): nothing to remove
            await self._store.delete_conversation(conv.key)
        else:
            await self._store.save_conversation(conv)

    async def _dispatch(self, origin: Origin, conv: Conversation, event: Event, ack: Ack) -> Reply:
        state = conv.state
        match event:
            case EditSubmitted(images=images, prompt=prompt, mask=mask, options=options):
                # A drawing made for this chat waits for the next edit form (Discord's /draw, then /edit).
                mask = mask or (conv.mask if _drawing_pending(conv) else None)
                return await self._start(origin, conv, images, mask, prompt, options, origin.event_id, ack)
            case ImageReceived(images=images, caption=caption) if caption and caption.strip():
                return await self._start(
                    origin, conv, images, None, caption, EditOptions(), origin.event_id, ack
                )
            case ImageReceived(images=images):
                return _say(*await self._on_image(origin, conv, images))
            case TextReceived(text=text) if state in (
                ConvState.AWAITING_MASK_OR_PROMPT,
                ConvState.AWAITING_PROMPT,
            ):
                return await self._start(
                    origin, conv, conv.images, conv.mask, text, conv.options, origin.event_id, ack
                )
            case TextReceived():
                if state is ConvState.CONFIRM_RETRY:
                    await self._save(replace(conv, state=ConvState.IDLE))
                return _say(SendText(origin, Text("send_photo_first")))
            case Command(name=name, args=args):
                return await self._on_command(origin, conv, name.lower(), args, ack)
            case ButtonPressed(action=action, job_id=job_id, prompt=prompt):
                return await self._on_button(origin, conv, action, job_id, prompt, ack)
            case AdminCommand():
                return _say(*await self.admin.handle(origin, event))
            case DrawRequested(image=image):
                return _say(*await self._on_draw(origin, conv, image))
            case DrawingReceived():
                return _say(*await self._on_drawing(origin, conv, event))
        raise AssertionError(f"unhandled event {event!r}")  # pragma: no cover - the union is closed

    async def _on_image(
        self, origin: Origin, conv: Conversation, images: tuple[ImageRef, ...]
    ) -> list[Action]:
        for ref in images:
            check_image_meta(ref, self.config.max_input_bytes)
        if conv.state is ConvState.AWAITING_MASK_OR_PROMPT and len(images) == 1:
            await self._save(replace(conv, state=ConvState.AWAITING_PROMPT, mask=images[0]))
            return [SendText(origin, Text("mask_received"))]
        if conv.state is ConvState.AWAITING_PROMPT and conv.mask is not None and len(images) == 1:
            await self._save(replace(conv, mask=images[0]))
            return [SendText(origin, Text("mask_replaced"))]
        await self._save(
            Conversation(conv.key, ConvState.AWAITING_MASK_OR_PROMPT, images=images, options=conv.options)
        )
        if len(images) > 1:
            return [SendText(origin, Text("photos_received", {"count": len(images)}))]
        buttons = self._draw_buttons(origin, images[0], single_use=False)
        return [
            SendText(origin, Text("photo_received_draw" if buttons else "photo_received"), buttons=buttons)
        ]

    def _draw_buttons(self, origin: Origin, photo: ImageRef, *, single_use: bool) -> tuple[Button, ...]:
        """The "Draw on it" button when the painter runs."""
        if self._painter is None:
            return ()
        token = self._painter.link(origin, photo, self.runner.now(), single_use=single_use)
        return (Button("draw", "", Text("button_draw"), painter=token),)

    async def _on_draw(self, origin: Origin, conv: Conversation, image: ImageRef) -> list[Action]:
        if self._painter is None:
            return [SendText(origin, Text("painter_off"), private=True)]
        check_image_meta(image, self.config.max_input_bytes)
        # The handle lets the drawing's answer update this private message (Discord: for 15 minutes).
        await self._save(
            Conversation(
                conv.key,
                ConvState.AWAITING_MASK_OR_PROMPT,
                images=(image,),
                options=conv.options,
                data={"handle": origin.handle.to_json()},
            )
        )
        buttons = self._draw_buttons(origin, image, single_use=True)
        minutes = round(LINK_TTL.total_seconds() / 60)
        return [SendText(origin, Text("draw_open", {"minutes": minutes}), buttons=buttons, private=True)]

    async def _on_drawing(self, origin: Origin, conv: Conversation, event: DrawingReceived) -> list[Action]:
        if conv.state not in (ConvState.AWAITING_MASK_OR_PROMPT, ConvState.AWAITING_PROMPT):
            return [SendText(origin, Text("drawing_too_late"), private=True)]
        await self._save(replace(conv, state=ConvState.AWAITING_PROMPT, mask=event.drawing))
        origin = replace(origin, handle=ReplyHandle.from_json(conv.data.get("handle")) or origin.handle)
        kind = "sketch" if event.sketch else "area"
        return [ShowDrawing(origin, event.preview, Text(f"drawing_received_{kind}"))]

    async def drawing_target(self, origin: Origin) -> ImageRef | None:
        """The photo the user's conversation in this chat waits on a mask for (what the painter shows)."""
        conv, notices = await self._load(conversation_key(origin))
        if notices or conv.state not in (ConvState.AWAITING_MASK_OR_PROMPT, ConvState.AWAITING_PROMPT):
            return None
        return conv.images[0] if conv.images else None

    async def uses_markup(self, origin: Origin) -> bool:
        """Whether the user's model reads drawings as markup (the painter then offers Sketch mode)."""
        prefs = await self.preferences(origin)
        model = prefs.model if prefs.model in self.config.allowed_models else self.config.default_model
        return self.config.catalogue.spec(model).markup

    async def _on_command(self, origin: Origin, conv: Conversation, name: str, args: str, ack: Ack) -> Reply:
        match name:
            case "start" | "help":
                drawing = await self._drawing_help(origin)
                return _say(SendText(origin, Text("help", {"drawing": drawing})))
            case "cancel":
                cancelled = await self.runner.cancel(origin.user)
                had_state = conv.state is not ConvState.IDLE
                await self._save(replace(conv, state=ConvState.IDLE))
                key = "cancelled" if had_state or cancelled else "nothing_to_cancel"
                return _say(SendText(origin, Text(key)))
            case "skip":
                if conv.state is not ConvState.AWAITING_MASK_OR_PROMPT:
                    return _say(SendText(origin, Text("nothing_to_skip")))
                await self._save(replace(conv, state=ConvState.AWAITING_PROMPT, mask=None))
                return _say(SendText(origin, Text("skip_ok")))
            case "edit":
                if (
                    conv.state in (ConvState.AWAITING_MASK_OR_PROMPT, ConvState.AWAITING_PROMPT)
                    and args.strip()
                ):
                    return await self._start(
                        origin, conv, conv.images, conv.mask, args, conv.options, origin.event_id, ack
                    )
                return _say(SendText(origin, Text("edit_needs_photo")))
            case "usage":
                return _say(*(SendText(origin, text) for text in await self.usage(origin)))
            case _ if name in ADMIN_COMMANDS:
                return _say(*await self.admin.handle(origin, AdminCommand(name, args)))
        return _say(SendText(origin, Text("unknown_command", {"name": name})))

    async def _on_button(
        self, origin: Origin, conv: Conversation, action: str, job_id: str, prompt: str | None, ack: Ack
    ) -> Reply:
        job = await self._store.get_job(job_id)
        if job is None:
            return _say(SendText(origin, Text("result_gone"), private=True))
        if not owns(origin, job):
            return _say(not_yours(origin))
        match action:
            case "edit_again":
                if not job.result_refs:
                    return _say(SendText(origin, Text("result_unavailable"), private=True))
                if prompt is not None and prompt.strip():
                    options = _keep_model(job.options)
                    return await self._start(
                        origin, conv, job.result_refs, None, prompt, options, origin.event_id, ack
                    )
                await self._save(
                    Conversation(
                        conv.key,
                        ConvState.AWAITING_PROMPT,
                        images=job.result_refs,
                        options=_keep_model(job.options),
                    )
                )
                return _say(SendText(origin, Text("edit_again_prompt")))
            case "retry":
                await self._save(replace(conv, state=ConvState.CONFIRM_RETRY, data={"job_id": job_id}))
                buttons = (Button("retry_confirm", job_id, Text("button_retry_confirm")),)
                return _say(
                    SendText(origin, Text("retry_confirm", {"credits": job.credits}), buttons=buttons)
                )
            case results.FULL_SIZE:
                # Free: the originals of a result already paid for.
                return _say(await results.full_size_reply(self._store, origin, job_id, self.runner.now()))
            case "retry_confirm":
                # Keyed by the original job and the presser, so a double tap or a second "yes" runs once.
                key = f"retry:{job_id}:{origin.user}"
                return await self._start(
                    origin, conv, job.images, job.mask, job.prompt, job.options, key, ack
                )
        return _say(SendText(origin, Text("result_gone"), private=True))

    async def button_refusal(self, origin: Origin, job_id: str) -> SendText | None:
        """Why ``origin`` may not press a button of ``job_id`` (None when they may).

        For adapters that must answer a press before the engine sees it (Discord opens a modal
        at once); the rule itself is :func:`owns`.
        """
        job = await self._store.get_job(job_id)
        if job is None:
            return SendText(origin, Text("result_gone"), private=True)
        return None if owns(origin, job) else not_yours(origin)

    def early_refusal(self, origin: Origin, event: Event) -> Reply | None:
        """Why an edit is refused from what it carries alone (no database read), or None.

        For adapters that acknowledge an edit publicly before handling it (Discord): a refusal
        known this early is answered privately from the start. The files' platform metadata is
        checked as :meth:`handle` checks it (the first image and the mask, which every model
        reads); every other refusal comes from :meth:`handle`.
        """
        if not isinstance(event, EditSubmitted) or not event.images:
            return None
        try:
            for ref in (event.images[0], *([event.mask] if event.mask else [])):
                check_image_meta(ref, self.config.max_input_bytes)
        except errors.EditbotError as exc:
            return _say(error_action(origin, exc))
        return None

    async def _start(
        self,
        origin: Origin,
        conv: Conversation,
        images: tuple[ImageRef, ...],
        mask: ImageRef | None,
        prompt: str,
        options: EditOptions,
        idempotency_key: str,
        ack: Ack,
    ) -> Reply:
        preferences = await self._store.get_preferences(str(origin.user.platform), origin.user.user_id)
        spec, notices = build_edit(
            images,
            mask,
            prompt,
            options,
            preferences,
            default_model=self.config.default_model,
            allowed_models=self.config.allowed_models,
            catalogue=self.config.catalogue,
            max_input_bytes=self.config.max_input_bytes,
        )
        shown = tuple(SendText(origin, text) for text in notices)
        try:
            job = await self.runner.submit(
                origin,
                spec,
                f"{origin.user.platform}:{idempotency_key}",
                before_start=ack,
            )
        except errors.QuotaExceeded as exc:
            # The notices about the inputs still hold: the user may retry within their quota.
            return _say(*shown, error_action(origin, exc))
        await self._save(replace(conv, state=ConvState.IDLE))
        return Reply(shown, job)

    async def usage(self, origin: Origin) -> list[Text]:
        """What /usage shows: used, left and reset time for the user (and the community, in one).

        Limits include what admins granted or took this period; the bot-wide cap is shown only
        when one is set, and a block is mentioned when there is one.
        """
        policy = self.runner.policy
        now = self.runner.now()
        start = policy.period_start(now)
        reset = format_time(policy.next_reset(now), policy.timezone)
        resolved = await self.runner.limits.resolve(origin.user, origin.community)
        texts = []
        capped = [scope for scope in resolved.scopes if scope.limit is not None]  # not the uncapped global
        for scope, snap in zip(capped, await self._store.usages(capped, start), strict=True):
            limit = max(0, (scope.limit or 0) + snap.bonus)
            params = {
                "used": snap.used,
                "limit": limit,
                "left": max(0, limit - snap.used),
                "period": Text(f"period_{policy.period}"),
                "reset": reset,
            }
            key = _USAGE_TEXTS.get(scope.kind, "usage")
            texts.append(Text(key, params))
        if resolved.blocked is not None:
            texts.append(Text(f"usage_blocked_{resolved.blocked}"))
        return texts

    async def _drawing_help(self, origin: Origin) -> Text:
        """What a drawing on the photo does with the user's model: guide it (markup) or mark the area."""
        prefs = await self.preferences(origin)
        model = prefs.model if prefs.model in self.config.allowed_models else self.config.default_model
        key = "help_drawing_markup" if await self.uses_markup(origin) else "help_drawing_mask"
        return Text(key, {"model": model})

    async def preferences(self, origin: Origin) -> EditOptions:
        """The user's saved defaults."""
        return await self._store.get_preferences(str(origin.user.platform), origin.user.user_id)

    async def set_preferences(self, origin: Origin, options: EditOptions) -> None:
        """Save the user's defaults (adapters validate choices against the allowed models' specs)."""
        await self._store.set_preferences(str(origin.user.platform), origin.user.user_id, options)


def owns(origin: Origin, job: Job) -> bool:
    """A job's buttons act only for the user who asked for it, in the chat it belongs to.

    Button data carries a job id anyone can copy into another chat (or forge), so every press
    is checked against the stored job, never against where the button appears.
    """
    return (
        job.platform == str(origin.user.platform)
        and job.user_id == origin.user.user_id
        and job.chat_id == origin.chat.chat_id
    )


def not_yours(origin: Origin) -> SendText:
    """The one refusal for a press by anyone but the owner; it says nothing about the job."""
    return SendText(origin, Text("button_not_yours"), private=True)


def _drawing_pending(conv: Conversation) -> bool:
    return conv.state is ConvState.AWAITING_PROMPT and is_drawing(conv.mask)


def _keep_model(options: EditOptions) -> EditOptions:
    return EditOptions(model=options.model)
