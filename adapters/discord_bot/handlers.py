"""What each interaction does: acknowledge it within Discord's 3 seconds, hand one event to the engine,
show the replies. They translate and never decide.

How each kind is acknowledged (and why):
- ``/edit``, "Edit image" and "Edit again" submissions start a job: deferred publicly ("thinking…")
  once the job is stored (so an acknowledged request has a job behind it, even across a crash),
  and the result lands in the channel for everyone; if the engine refuses instead, the
  interaction is deferred privately and the reason goes to the user only (nobody else's
  business); if the job existed already (the interaction reached two processes), whoever created
  it answers. In a burst (issue 11) the public defer comes first, before any database work, so
  first feedback does not wait for everyone's storing: a refusal then removes the placeholder
  and answers privately, and a crash between the acknowledgement and storing the job (moments)
  leaves a "thinking…" that Discord ends after 15 minutes, with nothing charged.
- ``/usage``, ``/help`` and "Retry" only answer the user: deferred ephemerally.
- Admin commands (``/limits`` … ``/stats``) are deferred ephemerally too: refusals are nobody else's
  business, and answers (including the /stats chart) may name members and their usage; an admin
  who wants to share one can take a screenshot.
- "Yes, retry" updates its own private confirmation in place (so it cannot be pressed twice); the
  retried result is then posted publicly as a new message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import discord

from adapters.discord_bot import wording
from adapters.discord_bot.outbox import Acked, DiscordOutbox
from adapters.discord_bot.translate import FOLLOWUP, attachment_ref, first_image, locale_of, origin_of
from adapters.discord_bot.views import EditImageModal, PromptModal
from core.engine import ConversationEngine
from core.events import (
    AdminCommand,
    ButtonPressed,
    Command,
    DrawRequested,
    EditOptions,
    EditSubmitted,
    Event,
    Origin,
)
from core.refs import ImageRef

log = logging.getLogger(__name__)

ACK_WITHIN = 2.0
"""Seconds an edit may take to be stored before its interaction is acknowledged anyway: Discord
gives up on an interaction not acknowledged within 3 s."""

ANSWER_WITHIN = 1.0
"""Seconds a command's answer may take to go as the interaction's response itself, in one call; a
slower one is acknowledged first ("thinking…") and then filled in, well within Discord's 3 s."""

BURST_AT = 4
"""Edits being stored at once past which a new one is acknowledged before it is stored (a burst:
first feedback within moments rather than after everyone's database work; issue 11)."""

UNKNOWN_INTERACTION = 10062
"""Discord's error code for an interaction acknowledged too late (after its 3 seconds)."""

ALREADY_ACKNOWLEDGED = 40060
"""Discord's error code for a second acknowledgement of one interaction."""


async def report_failure(interaction: discord.Interaction[Any]) -> None:
    """Tell the user, privately and in plain words, that their request failed on our side."""
    text = wording.render(locale_of(interaction), "internal")
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not report the failure of interaction %s", interaction.id)


class DiscordHandlers:
    """The bot's behaviour; commands, buttons and modals call into it."""

    def __init__(self, engine: ConversationEngine, outbox: DiscordOutbox) -> None:
        self._engine = engine
        self._outbox = outbox
        self._storing = 0  # edits between their interaction and their stored job, now
        # In a burst, acknowledged edits are stored a few at a time, in order: a bystander's
        # /usage then waits behind a few edits' database work, not hundreds (and earlier users
        # get their results sooner).
        self._burst_turn = asyncio.Semaphore(BURST_AT)

    async def _run(self, origin: Origin, event: Event, acked: Acked) -> None:
        await self._outbox.answer(origin, await self._engine.handle(origin, event), acked)

    async def _start(
        self,
        interaction: discord.Interaction[Any],
        origin: Origin,
        event: Event,
        ack: Callable[[], Awaitable[None]],
        acked: Acked,
    ) -> None:
        """An event that may start an edit: acknowledged once its job is stored, or first in a burst.

        At rest the job is stored first: a refusal (busy, blocked, out of credits) is then
        answered privately from the start, and an acknowledged request always has a job behind
        it. In a burst (more than ``BURST_AT`` edits being stored at once) waiting for the
        database would hold the user's first feedback for seconds, so the interaction is
        acknowledged first and then stored when its turn comes (``BURST_AT`` at a time, in
        order); a refusal then replaces the public "thinking…" with a private answer. Storing
        slower than ``ACK_WITHIN`` is acknowledged anyway, for the same reason. A refusal the
        inputs alone show (a file too large) is always private from the start.
        Nothing to say means this interaction's job exists already (delivered twice, or to two
        processes) and whoever stored it answers; too late an acknowledgement starts nothing.
        """
        early = self._engine.early_refusal(origin, event)
        if early is not None:  # refused from its own inputs: privately from the start
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self._outbox.answer(origin, early, Acked.PRIVATE)
            return
        self._storing += 1
        try:
            if self._storing > BURST_AT:
                if not await self._acknowledge(interaction, ack):
                    return
                async with self._burst_turn:
                    handled = await self._engine.handle(origin, event)
                await self._outbox.answer(origin, handled, acked)
            else:
                await self._store_first(interaction, origin, event, ack, acked)
        finally:
            self._storing -= 1

    async def _store_first(
        self,
        interaction: discord.Interaction[Any],
        origin: Origin,
        event: Event,
        ack: Callable[[], Awaitable[None]],
        acked: Acked,
    ) -> None:
        """Hand the event to the engine, which acknowledges once the job is stored (or refuses)."""
        lock = asyncio.Lock()

        async def ack_once() -> None:
            async with lock:
                if not interaction.response.is_done():
                    await ack()

        handling = asyncio.ensure_future(self._engine.handle(origin, event, acknowledge=ack_once))
        done, _ = await asyncio.wait({handling}, timeout=ACK_WITHIN)
        if not done:
            log.info("interaction %s acknowledged before its job was stored (slow to store)", interaction.id)
            # Expired already: the job, if stored, answers in the channel.
            await self._acknowledge(interaction, ack_once)
        handled = await handling
        if interaction.response.is_done():  # acknowledged: a job was stored (it may have failed since)
            await self._outbox.answer(origin, handled, acked)
        elif handled.actions:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self._outbox.answer(origin, handled, Acked.PRIVATE)

    async def _acknowledge(
        self, interaction: discord.Interaction[Any], ack: Callable[[], Awaitable[None]]
    ) -> bool:
        """Acknowledge ``interaction``; False when Discord gave up on it already (start nothing)."""
        try:
            await ack()
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_INTERACTION:
                raise
            log.warning("interaction %s expired before it was acknowledged", interaction.id)
            return False
        except discord.HTTPException as exc:
            if exc.code != ALREADY_ACKNOWLEDGED:
                raise
            # Delivered to two processes: the other one acknowledged it. The job is keyed by the
            # interaction, so whichever process stores it runs it; the other stays quiet.
            log.info("interaction %s was acknowledged by another process", interaction.id)
        return True

    @contextlib.asynccontextmanager
    async def _guard(self, interaction: discord.Interaction[Any]) -> AsyncIterator[None]:
        """Log what went wrong and tell the user in plain words, never with details."""
        try:
            yield
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_INTERACTION:
                raise
            # Acknowledged too late (the event loop was blocked for >3 s): Discord already told the user.
            log.warning("interaction %s expired before it was acknowledged", interaction.id)
        except Exception:
            log.exception("handling interaction %s failed", interaction.id)
            await report_failure(interaction)

    async def edit(
        self,
        interaction: discord.Interaction[Any],
        images: Sequence[discord.Attachment],
        prompt: str,
        mask: discord.Attachment | None,
        options: EditOptions,
    ) -> None:
        """``/edit``: the images, prompt, mask and options all at once."""
        async with self._guard(interaction):
            event = EditSubmitted(
                tuple(attachment_ref(a) for a in images),
                prompt,
                attachment_ref(mask) if mask is not None else None,
                options,
            )
            await self._start(interaction, origin_of(interaction), event, _defer(interaction), Acked.JOB)

    async def draw(self, interaction: discord.Interaction[Any], image: discord.Attachment) -> None:
        """``/draw``: a private one-time link to the painter; Done updates that private message."""
        async with self._guard(interaction):
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self._run(origin_of(interaction), DrawRequested(attachment_ref(image)), Acked.PRIVATE)

    async def command(self, interaction: discord.Interaction[Any], name: str) -> None:
        """``/usage`` and ``/help``: a private answer, as the response itself when it is ready
        within ``ANSWER_WITHIN`` (one call instead of "thinking…" and an edit)."""
        async with self._guard(interaction):
            origin = origin_of(interaction)
            handling = asyncio.ensure_future(self._engine.handle(origin, Command(name)))
            try:
                handled = await asyncio.wait_for(asyncio.shield(handling), ANSWER_WITHIN)
            except TimeoutError:
                await interaction.response.defer(ephemeral=True, thinking=True)
                await self._outbox.answer(origin, await handling, Acked.PRIVATE)
            else:
                await self._outbox.answer(origin, handled, Acked.PRIVATE, respond=interaction.response)

    async def admin(self, interaction: discord.Interaction[Any], command: AdminCommand) -> None:
        """An admin command: a private answer (the core decides who may run it)."""
        async with self._guard(interaction):
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self._run(origin_of(interaction), command, Acked.PRIVATE)

    async def open_edit_image(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        """The "Edit image" message command: ask for a prompt (and a mask) in a modal."""
        async with self._guard(interaction):
            locale = locale_of(interaction)
            image = first_image(message)
            if image is None:
                await interaction.response.send_message(
                    wording.render(locale, "discord_no_image"), ephemeral=True
                )
                return
            await interaction.response.send_modal(EditImageModal(locale, image, self.submit_edit_image))

    async def submit_edit_image(
        self,
        interaction: discord.Interaction[Any],
        image: ImageRef,
        prompt: str,
        mask: discord.Attachment | None,
    ) -> None:
        """The "Edit image" modal was submitted: edit the message's image."""
        async with self._guard(interaction):
            event = EditSubmitted((image,), prompt, attachment_ref(mask) if mask is not None else None)
            await self._start(interaction, origin_of(interaction), event, _defer(interaction), Acked.JOB)

    async def press(self, interaction: discord.Interaction[Any], action: str, job_id: str) -> None:
        """A button under a result or a retry confirmation."""
        async with self._guard(interaction):
            locale = locale_of(interaction)
            if action == "edit_again":
                # The modal opens before the engine sees the press, so ownership is checked first.
                refusal = await self._engine.button_refusal(origin_of(interaction), job_id)
                if refusal is not None:
                    text = wording.render(locale, refusal.text)
                    await interaction.response.send_message(text, ephemeral=True)
                    return

                async def submit(modal_interaction: discord.Interaction[Any], prompt: str) -> None:
                    await self.submit_again(modal_interaction, job_id, prompt)

                await interaction.response.send_modal(PromptModal(locale, submit))
            elif action == "retry_confirm":

                async def confirm() -> None:
                    await interaction.response.edit_message(
                        content=wording.render(locale, "discord_retrying"), view=None
                    )

                origin = origin_of(interaction, mode=FOLLOWUP)
                await self._start(interaction, origin, ButtonPressed(action, job_id), confirm, Acked.UPDATED)
            else:
                await interaction.response.defer(ephemeral=True, thinking=True)
                await self._run(origin_of(interaction), ButtonPressed(action, job_id), Acked.PRIVATE)

    async def submit_again(self, interaction: discord.Interaction[Any], job_id: str, prompt: str) -> None:
        """The "Edit again" modal was submitted: edit the job's result with the new prompt."""
        async with self._guard(interaction):
            if not prompt.strip():
                text = wording.render(locale_of(interaction), "prompt_missing")
                await interaction.response.send_message(text, ephemeral=True)
                return
            event = ButtonPressed("edit_again", job_id, prompt=prompt)
            await self._start(interaction, origin_of(interaction), event, _defer(interaction), Acked.JOB)


def _defer(interaction: discord.Interaction[Any]) -> Callable[[], Awaitable[None]]:
    """The public "thinking…" acknowledgement of an interaction that starts an edit."""

    async def defer() -> None:
        await interaction.response.defer(thinking=True)

    return defer
