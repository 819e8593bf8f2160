"""What each interaction does: acknowledge it within Discord's 3 seconds, hand one event to the engine,
show the replies. They translate and never decide.

How each kind is acknowledged (and why):
- ``/edit``, "Edit image" and "Edit again" submissions start a job: deferred publicly ("thinking…"),
  so the result lands in the channel for everyone; if the engine refuses instead, the placeholder
  is deleted and the reason goes privately to the user (it is nobody else's business).
- ``/usage``, ``/help`` and "Retry" only answer the user: deferred ephemerally.
- Admin commands (``/limits`` … ``/stats``) are deferred ephemerally too: refusals are nobody else's
  business, and answers (including the /stats chart) may name members and their usage; an admin
  who wants to share one can take a screenshot.
- "Yes, retry" updates its own private confirmation in place (so it cannot be pressed twice); the
  retried result is then posted publicly as a new message.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import discord

from adapters.discord_bot.outbox import Acked, DiscordOutbox
from adapters.discord_bot.translate import FOLLOWUP, attachment_ref, first_image, locale_of, origin_of
from adapters.discord_bot.views import EditImageModal, PromptModal
from core import i18n
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


async def report_failure(interaction: discord.Interaction[Any]) -> None:
    """Tell the user, privately and in plain words, that their request failed on our side."""
    text = i18n.render(locale_of(interaction), "internal")
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

    async def _run(self, origin: Origin, event: Event, acked: Acked) -> None:
        actions = await self._engine.handle(origin, event)
        await self._outbox.answer(origin, actions, acked)

    @contextlib.asynccontextmanager
    async def _guard(self, interaction: discord.Interaction[Any]) -> AsyncIterator[None]:
        """Log what went wrong and tell the user in plain words, never with details."""
        try:
            yield
        except discord.NotFound as exc:
            if exc.code != 10062:
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
            await interaction.response.defer(thinking=True)
            event = EditSubmitted(
                tuple(attachment_ref(a) for a in images),
                prompt,
                attachment_ref(mask) if mask is not None else None,
                options,
            )
            await self._run(origin_of(interaction), event, Acked.JOB)

    async def draw(self, interaction: discord.Interaction[Any], image: discord.Attachment) -> None:
        """``/draw``: a private one-time link to the painter; Done updates that private message."""
        async with self._guard(interaction):
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self._run(origin_of(interaction), DrawRequested(attachment_ref(image)), Acked.PRIVATE)

    async def command(self, interaction: discord.Interaction[Any], name: str) -> None:
        """``/usage`` and ``/help``: a private answer."""
        async with self._guard(interaction):
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self._run(origin_of(interaction), Command(name), Acked.PRIVATE)

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
                    i18n.render(locale, "discord_no_image"), ephemeral=True
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
            await interaction.response.defer(thinking=True)
            event = EditSubmitted((image,), prompt, attachment_ref(mask) if mask is not None else None)
            await self._run(origin_of(interaction), event, Acked.JOB)

    async def press(self, interaction: discord.Interaction[Any], action: str, job_id: str) -> None:
        """A button under a result or a retry confirmation."""
        async with self._guard(interaction):
            locale = locale_of(interaction)
            if action == "edit_again":

                async def submit(modal_interaction: discord.Interaction[Any], prompt: str) -> None:
                    await self.submit_again(modal_interaction, job_id, prompt)

                await interaction.response.send_modal(PromptModal(locale, submit))
            elif action == "retry_confirm":
                await interaction.response.edit_message(
                    content=i18n.render(locale, "discord_retrying"), view=None
                )
                origin = origin_of(interaction, mode=FOLLOWUP)
                await self._run(origin, ButtonPressed(action, job_id), Acked.UPDATED)
            else:
                await interaction.response.defer(ephemeral=True, thinking=True)
                await self._run(origin_of(interaction), ButtonPressed(action, job_id), Acked.PRIVATE)

    async def submit_again(self, interaction: discord.Interaction[Any], job_id: str, prompt: str) -> None:
        """The "Edit again" modal was submitted: edit the job's result with the new prompt."""
        async with self._guard(interaction):
            if not prompt.strip():
                text = i18n.render(locale_of(interaction), "prompt_missing")
                await interaction.response.send_message(text, ephemeral=True)
                return
            await interaction.response.defer(thinking=True)
            event = ButtonPressed("edit_again", job_id, prompt=prompt)
            await self._run(origin_of(interaction), event, Acked.JOB)
