"""Buttons under results and the modals that ask for a prompt.

Buttons are :class:`discord.ui.DynamicItem`: their custom id (``editbot:<action>:<job id>``) is all
the state they have, so they keep working after a restart and long after the interaction that
posted them expired; the job itself is looked up in the database by the engine. Modals live in
memory only while they are open (a restart in between asks the user to start over).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import discord

from adapters.discord_bot import wording
from core.actions import Button
from core.refs import ImageRef

MODAL_TIMEOUT = 30 * 60
PROMPT_MAX = 4000  # a Discord text input holds at most 4000 characters
_STYLES = {
    "edit_again": discord.ButtonStyle.primary,
    "retry": discord.ButtonStyle.secondary,
    "retry_confirm": discord.ButtonStyle.danger,
}


class ButtonHandler(Protocol):
    """What a pressed result button calls (the bot's handlers)."""

    async def press(self, interaction: discord.Interaction[Any], action: str, job_id: str) -> None:
        """React to ``action`` on the job ``job_id``."""
        ...


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"editbot:(?P<action>edit_again|retry|retry_confirm):(?P<job>[0-9a-f]{1,64})",
):
    """A button under a result (or a retry confirmation) that names its action and job."""

    def __init__(self, action: str, job_id: str, label: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=_STYLES.get(action, discord.ButtonStyle.secondary),
                custom_id=f"editbot:{action}:{job_id}",
            )
        )
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ResultButton:
        """Rebuild the button from a press (any process, any time)."""
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(match["action"], match["job"], label)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Other bots are ignored."""
        return not interaction.user.bot

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the press to the bot's handlers."""
        handler: ButtonHandler = interaction.client.handlers
        await handler.press(interaction, self.action, self.job_id)


def buttons_view(
    buttons: tuple[Button, ...], locale: str, painter_url: str | None = None
) -> discord.ui.View | None:
    """A view holding the engine's buttons, labelled in ``locale``; None without buttons.

    A painter button is a link to the painter page under ``painter_url`` (EDITBOT_WEB_URL; left out
    when the painter is off): Discord opens it in the browser, and nothing comes back to the bot.
    """
    view = discord.ui.View(timeout=None)
    for button in buttons:
        label = wording.render(locale, button.label)
        if button.painter is not None:
            if painter_url is not None:
                url = f"{painter_url}/painter/?t={button.painter}"
                view.add_item(discord.ui.Button(label=label, style=discord.ButtonStyle.link, url=url))
            continue
        view.add_item(ResultButton(button.action, button.job_id, label))
    return view if view.children else None


class _HumanModal(discord.ui.Modal):
    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return not interaction.user.bot


def prompt_input(locale: str) -> discord.ui.TextInput[Any]:
    """The "what to change" field both edit forms show."""
    return discord.ui.TextInput(
        custom_id="prompt",
        style=discord.TextStyle.paragraph,
        placeholder=wording.render(locale, "discord_modal_prompt_hint")[:100],
        max_length=PROMPT_MAX,
    )


class PromptModal(_HumanModal):
    """ "Edit again": asks what to change next in a result."""

    def __init__(
        self, locale: str, submit: Callable[[discord.Interaction[Any], str], Awaitable[None]]
    ) -> None:
        super().__init__(title=wording.render(locale, "discord_again_title")[:45], timeout=MODAL_TIMEOUT)
        self._submit = submit
        self.prompt: discord.ui.TextInput[Any] = prompt_input(locale)
        self.add_item(
            discord.ui.Label(text=wording.render(locale, "discord_modal_prompt")[:45], component=self.prompt)
        )

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        """Run the edit with the prompt given."""
        await self._submit(interaction, self.prompt.value)


class EditImageModal(_HumanModal):
    """The "Edit image" message command's form: a prompt and an optional mask upload."""

    def __init__(
        self,
        locale: str,
        image: ImageRef,
        submit: Callable[
            [discord.Interaction[Any], ImageRef, str, discord.Attachment | None], Awaitable[None]
        ],
    ) -> None:
        super().__init__(title=wording.render(locale, "discord_modal_title")[:45], timeout=MODAL_TIMEOUT)
        self._image = image
        self._submit = submit
        self.prompt: discord.ui.TextInput[Any] = prompt_input(locale)
        self.mask: discord.ui.FileUpload[Any] = discord.ui.FileUpload(
            custom_id="mask", required=False, max_values=1
        )
        self.add_item(
            discord.ui.Label(text=wording.render(locale, "discord_modal_prompt")[:45], component=self.prompt)
        )
        self.add_item(
            discord.ui.Label(
                text=wording.render(locale, "discord_modal_mask")[:45],
                description=wording.render(locale, "discord_modal_mask_hint")[:100],
                component=self.mask,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        """Run the edit on the message's image, with the mask if one was uploaded."""
        masks = self.mask.values
        await self._submit(interaction, self._image, self.prompt.value, masks[0] if masks else None)
