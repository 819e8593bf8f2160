"""The application commands: ``/edit``, ``/usage``, ``/help`` and the "Edit image" message command.

Descriptions come from the catalogs (English is the default; other catalog languages become
Discord localizations through :class:`CatalogTranslator` when commands are synced). The choices of
``size`` and ``quality`` are what the allowed models accept, so they depend on the settings and the
commands are built per bot, not at import time.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, locale_str

from adapters.discord_bot import wording
from adapters.discord_bot.handlers import DiscordHandlers, report_failure
from adapters.discord_bot.settings import DiscordSettings
from core import i18n
from core.catalogue import ModelCatalogue
from core.events import EditOptions

log = logging.getLogger(__name__)

N_CHOICES = (1, 2, 3, 4)


def text(key: str) -> locale_str:
    """A command string: English from the catalog, translated per locale by its ``key``."""
    return locale_str(wording.render(i18n.FALLBACK, key), key=key)


class CatalogTranslator(app_commands.Translator):
    """Command names and descriptions in every catalog language Discord has a locale for."""

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        """The catalog text of ``string``'s key in ``locale``; None to keep the English default."""
        key = string.extras.get("key")
        target = i18n.pick_locale(locale.value)
        if key is None or target == i18n.FALLBACK:
            return None
        return wording.render(target, key)


class EditTree(app_commands.CommandTree[Any]):
    """The command tree: other bots are ignored; failures are logged and explained in plain words."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Only people use the bot."""
        return not interaction.user.bot

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError, /
    ) -> None:
        """A command failed outside the handlers' own guard (e.g. an option could not be converted)."""
        log.error("command %s failed", interaction.command and interaction.command.name, exc_info=error)
        await report_failure(interaction)


def _union(values: list[tuple[str, ...]]) -> list[str]:
    return list(dict.fromkeys(v for group in values for v in group))


def _model_choice(name: str, description: str) -> Choice[str]:
    # Discord shows at most 100 characters of a choice's name.
    label = f"{name} — {description}" if description else name
    return Choice(name=label if len(label) <= 100 else label[:99] + "…", value=name)


def install_commands(
    tree: app_commands.CommandTree[Any],
    handlers: DiscordHandlers,
    settings: DiscordSettings,
    catalogue: ModelCatalogue,
) -> None:
    """Add every command to ``tree`` (syncing is the bot's ``setup_hook``'s job)."""
    specs = [catalogue.spec(model) for model in settings.offered_models]
    sizes = _union([spec.size_choices() for spec in specs])
    qualities = _union([spec.qualities for spec in specs])
    models = [_model_choice(spec.name, spec.description) for spec in specs]

    @app_commands.command(name="edit", description=text("discord_command_edit"))
    @app_commands.describe(
        image=text("discord_option_image"),
        prompt=text("discord_option_prompt"),
        mask=text("discord_option_mask"),
        image2=text("discord_option_image_extra"),
        image3=text("discord_option_image_extra"),
        image4=text("discord_option_image_extra"),
        size=text("discord_option_size"),
        quality=text("discord_option_quality"),
        n=text("discord_option_n"),
        model=text("discord_option_model"),
        keep_details=text("discord_option_keep_details"),
        cutout=text("discord_option_cutout"),
        previews=text("discord_option_previews"),
    )
    @app_commands.choices(
        size=[Choice(name=s, value=s) for s in sizes][:25],
        quality=[Choice(name=q, value=q) for q in qualities][:25],
        model=models[:25],
    )
    @app_commands.choices(n=[Choice(name=str(k), value=k) for k in N_CHOICES])
    async def edit(
        interaction: discord.Interaction[Any],
        image: discord.Attachment,
        prompt: str,
        mask: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        size: str | None = None,
        quality: str | None = None,
        n: int | None = None,
        model: str | None = None,
        keep_details: bool | None = None,
        cutout: bool | None = None,
        previews: bool | None = None,
    ) -> None:
        images = [a for a in (image, image2, image3, image4) if a is not None]
        options = EditOptions(
            model=model,
            size=size,
            quality=quality,
            n=n,
            keep_details=keep_details,
            cutout=cutout,
            previews=previews,
        )
        await handlers.edit(interaction, images, prompt, mask, options)

    @app_commands.command(name="usage", description=text("discord_command_usage"))
    async def usage(interaction: discord.Interaction[Any]) -> None:
        await handlers.command(interaction, "usage")

    @app_commands.command(name="help", description=text("discord_command_help"))
    async def help_(interaction: discord.Interaction[Any]) -> None:
        await handlers.command(interaction, "help")

    async def edit_image(interaction: discord.Interaction[Any], message: discord.Message) -> None:
        await handlers.open_edit_image(interaction, message)

    tree.add_command(edit)
    if settings.web_url:  # the painter (issue 15) runs only with a public URL for its page

        @app_commands.command(name="draw", description=text("discord_command_draw"))
        @app_commands.describe(image=text("discord_option_draw_image"))
        async def draw(interaction: discord.Interaction[Any], image: discord.Attachment) -> None:
            await handlers.draw(interaction, image)

        tree.add_command(draw)
    tree.add_command(usage)
    tree.add_command(help_)
    tree.add_command(app_commands.ContextMenu(name=text("discord_menu_edit"), callback=edit_image))
