"""/settings: an inline keyboard for the user's defaults (model, size, quality, number of results,
keeping faces and details, cut-outs).

Choices come from the operator's allowed models and each model's capabilities, so a user cannot
save a combination the model would refuse; switching model drops settings the new one lacks.
"""

from __future__ import annotations

from dataclasses import replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from adapters.telegram_bot import wording
from adapters.telegram_bot.outbox import TelegramOutbox
from adapters.telegram_bot.translate import origin_of
from core.engine import ConversationEngine
from core.events import EditOptions, Origin

MAX_RESULTS = 4


class PreferencesMenu:
    """Shows and updates a user's saved defaults."""

    PATTERN = r"^set:(model|size|quality|n|details|cutout|previews):"

    def __init__(self, engine: ConversationEngine, outbox: TelegramOutbox) -> None:
        self._engine = engine
        self._outbox = outbox

    def _effective(self, prefs: EditOptions) -> EditOptions:
        models = self._engine.config.allowed_models
        model = prefs.model if prefs.model in models else self._engine.config.default_model
        spec = self._engine.config.catalogue.spec(model)
        return EditOptions(
            model=model,
            size=prefs.size if prefs.size in spec.size_choices() else None,
            quality=prefs.quality if prefs.quality in spec.qualities else None,
            n=prefs.n if prefs.n and 1 <= prefs.n <= min(MAX_RESULTS, spec.max_n) else 1,
            keep_details=prefs.keep_details,
            cutout=prefs.cutout if spec.transparent else None,
            previews=prefs.previews,
        )

    def render(self, locale: str, prefs: EditOptions) -> tuple[str, InlineKeyboardMarkup]:
        """The settings message and its keyboard."""
        current = self._effective(prefs)
        assert current.model is not None
        catalogue = self._engine.config.catalogue
        spec = catalogue.spec(current.model)
        default = wording.render(locale, "settings_default")
        size_default = "settings_size_photo" if spec.free_sizes is not None else "settings_default"
        on, off = wording.render(locale, "settings_on"), wording.render(locale, "settings_off")
        models = "\n".join(
            f"• {name}"
            + (f" — {catalogue.spec(name).description}" if catalogue.spec(name).description else "")
            for name in self._engine.config.allowed_models
        )
        text = wording.render(
            locale,
            "settings",
            model=current.model,
            size=current.size or wording.render(locale, size_default),
            quality=current.quality or default,
            n=current.n,
            models=models,
        )
        extras = []
        if "high" in spec.input_fidelity:
            state = off if current.keep_details is False else on
            extras.append(wording.render(locale, "settings_details", state=state))
        if spec.transparent:
            extras.append(wording.render(locale, "settings_cutout", state=on if current.cutout else off))
        if spec.stream:
            state = off if current.previews is False else on
            extras.append(wording.render(locale, "settings_previews", state=state))
        if extras:
            text += "\n" + "\n".join(extras)

        def row(field: str, values: list[str], chosen: str | None) -> list[InlineKeyboardButton]:
            return [
                InlineKeyboardButton(("✓ " if v == chosen else "") + v, callback_data=f"set:{field}:{v}")
                for v in values
            ]

        def toggle(field: str, label: str, value: bool) -> list[InlineKeyboardButton]:
            state = on if value else off
            text = wording.render(locale, label, state=state)
            return [InlineKeyboardButton(text, callback_data=f"set:{field}:{'off' if value else 'on'}")]

        # One model per row: names are long, and a row of three would be cut off on phones.
        rows = [row("model", [name], current.model) for name in self._engine.config.allowed_models]
        sizes = list(spec.size_choices())
        rows += [row("size", sizes[:4], current.size), row("size", sizes[4:], current.size)]
        rows += [
            row("quality", list(spec.qualities), current.quality),
            row("n", [str(i) for i in range(1, min(MAX_RESULTS, spec.max_n) + 1)], str(current.n)),
        ]
        if "high" in spec.input_fidelity:
            rows.append(toggle("details", "settings_details_button", current.keep_details is not False))
        if spec.transparent:
            rows.append(toggle("cutout", "settings_cutout_button", bool(current.cutout)))
        if spec.stream:
            rows.append(toggle("previews", "settings_previews_button", current.previews is not False))
        return text, InlineKeyboardMarkup([r for r in rows if r])

    async def show(self, origin: Origin) -> None:
        """Send the settings message."""
        text, markup = self.render(origin.locale, await self._engine.preferences(origin))
        await self._outbox.text(origin, text, markup)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Apply one choice, save it, redraw the menu."""
        query = update.callback_query
        if query is None or query.data is None or not isinstance(query.message, Message):
            return
        _, field, value = query.data.split(":", 2)
        origin = origin_of(query.message, query.from_user, f"cb:{query.id}")
        asked = query.message.reply_to_message
        if asked is not None and asked.from_user is not None and asked.from_user.id != query.from_user.id:
            # The menu answers someone's /settings in a group: only they may use it.
            await query.answer(wording.render(origin.locale, "button_not_yours"), show_alert=True)
            return
        prefs = self._effective(await self._engine.preferences(origin))
        changed = self._apply(prefs, field, value)
        if changed is None:
            await query.answer(wording.render(origin.locale, "settings_invalid"), show_alert=True)
            return
        await self._engine.set_preferences(origin, changed)
        await query.answer(wording.render(origin.locale, "settings_saved"))
        text, markup = self.render(origin.locale, changed)
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise

    def _apply(self, prefs: EditOptions, field: str, value: str) -> EditOptions | None:
        assert prefs.model is not None
        spec = self._engine.config.catalogue.spec(prefs.model)
        if field == "model":
            if value not in self._engine.config.allowed_models:
                return None
            return self._effective(replace(prefs, model=value))
        if field == "size" and value in spec.size_choices():
            return replace(prefs, size=value)
        if field == "details" and value in ("on", "off") and "high" in spec.input_fidelity:
            return replace(prefs, keep_details=value == "on")
        if field == "cutout" and value in ("on", "off") and spec.transparent:
            return replace(prefs, cutout=value == "on")
        if field == "previews" and value in ("on", "off") and spec.stream:
            return replace(prefs, previews=value == "on")
        if field == "quality" and value in spec.qualities:
            return replace(prefs, quality=value)
        if field == "n" and value.isdigit() and 1 <= int(value) <= min(MAX_RESULTS, spec.max_n):
            return replace(prefs, n=int(value))
        return None
