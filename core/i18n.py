"""Message catalogs: ``core/locales/<locale>/*.json``, merged per locale, English as the fallback.

Each area keeps its own file (errors.json, engine.json, admin.json, ...) so they grow
independently. Keys missing in a locale fall back to English; a key missing everywhere
renders as the key itself so a gap is visible but never crashes a reply.

The core's catalogs hold platform-neutral texts. An adapter keeps its platform's texts in a
folder of its own with the same layout, layered over the core's by :class:`Catalogs`: its
messages come first, so it may also reword a core message in its platform's terms.

The catalogs are data files of their packages (found through them, never the working
directory). A missing or empty catalog is a broken installation: :func:`check_catalogs` says so
when a bot starts, instead of every reply silently showing bare keys.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from core.actions import Text
from core.errors import BadCommand, ConfigError, EditbotError
from core.quotas.rules import format_time

_ROOT = Path(__file__).parent / "locales"
FALLBACK = "en"


@cache
def catalog(locale: str, root: Path | None = None) -> dict[str, str]:
    """All messages of one locale (merged files) in ``root``: an adapter's folder, else the core's."""
    folder = (root or _ROOT) / locale
    merged: dict[str, str] = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def available() -> list[str]:
    """Locales that have a catalog."""
    if not _ROOT.is_dir():
        return []
    return sorted(p.name for p in _ROOT.iterdir() if p.is_dir())


def check_catalogs(*adapters: Path) -> int:
    """Fail loudly when the catalogs did not ship; the number of English core messages when they did.

    Checks the core's catalogs and each adapter catalog folder given. Raises
    :class:`core.errors.ConfigError` naming what is missing: no locales folder, no English
    catalog, a locale without files, a file that is empty or not a JSON object of strings.
    """
    count = _check_folder(_ROOT)
    for folder in adapters:
        _check_folder(folder)
    return count


def _check_folder(folder: Path) -> int:
    hint = "; the installation is incomplete: reinstall editbot (pip install --force-reinstall editbot)"
    if not folder.is_dir():
        raise ConfigError(f"message catalogs missing: no folder {folder}{hint}")
    locales = sorted(p for p in folder.iterdir() if p.is_dir())
    if FALLBACK not in {p.name for p in locales}:
        raise ConfigError(f"message catalogs missing: no {FALLBACK!r} catalog in {folder}{hint}")
    counts: dict[str, int] = {}
    for locale in locales:
        files = sorted(locale.glob("*.json"))
        if not files:
            raise ConfigError(f"message catalog {locale.name!r} is empty: no *.json in {locale}{hint}")
        for path in files:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"message catalog {path} cannot be read ({exc}){hint}") from None
            if not isinstance(data, dict) or not data or not all(isinstance(v, str) for v in data.values()):
                raise ConfigError(f"message catalog {path} is empty or not a JSON object of texts{hint}")
            counts[locale.name] = counts.get(locale.name, 0) + len(data)
    return counts[FALLBACK]


def pick_locale(code: str | None) -> str:
    """Map a platform language code (``zh-hans``, ``zh-CN``, ``zh``, ``en-US``) to a catalog locale."""
    if not code:
        return FALLBACK
    code = code.replace("_", "-").lower()
    if code.startswith("zh"):
        return "zh-CN"
    for loc in available():
        if loc.lower() == code or loc.lower() == code.split("-")[0]:
            return loc
    return FALLBACK


@dataclass(frozen=True, slots=True)
class Catalogs:
    """The catalogs a front end renders from: its own folder (``root``, laid out like
    ``core/locales``) over the core's; without a root, the core's alone.

    A key is looked up in the front end's catalog (the user's locale, then English), then in the
    core's. So a front end's message wins over a core message of the same key, also where a
    core message is nested as a parameter: a platform rewords a core text in its own terms, and
    a rewording missing in one locale still shows (in English) rather than the core's words.
    """

    root: Path | None = None

    def template(self, locale: str, key: str) -> str:
        """The template of ``key`` as described above; the key itself when no catalog has it."""
        for root in (self.root, None) if self.root is not None else (None,):
            for loc in (locale, FALLBACK):
                found = catalog(loc, root).get(key)
                if found:
                    return found
        return key

    def render(self, locale: str, text: Text | str, **params: Any) -> str:
        """The message in ``locale`` with its parameters filled in."""
        if isinstance(text, Text):
            key, values = text.key, {**text.params, **params}
        else:
            key, values = text, params
        return _Formatter(locale, self).vformat(self.template(locale, key), (), values)


CORE = Catalogs()


class _Formatter(string.Formatter):
    """Fills a template; a parameter that is itself a catalog message renders in the same language.

    ``{name:variant}`` on such a parameter renders its ``<key>_<variant>`` message instead, so a
    sentence can ask for the form it needs ("{period:this}" -> "today" where "{period}" -> "day").
    A placeholder with no value stays visible as ``{name}`` rather than failing the whole reply.
    """

    def __init__(self, locale: str, catalogs: Catalogs) -> None:
        self._locale = locale
        self._catalogs = catalogs

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(str(key), _Missing(str(key)))

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, _Missing):
            return "{" + value.name + "}"
        if isinstance(value, Text):
            key = f"{value.key}_{format_spec}" if format_spec else value.key
            return self._catalogs.render(self._locale, Text(key, value.params))
        return str(super().format_field(value, format_spec))


class _Missing:
    def __init__(self, name: str) -> None:
        self.name = name


def render(locale: str, text: Text | str, **params: Any) -> str:
    """The message in ``locale`` from the core's catalogs, with its parameters filled in."""
    return CORE.render(locale, text, **params)


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters with an ellipsis (platforms cap message lengths)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def explain(exc: EditbotError) -> tuple[str, dict[str, Any]]:
    """The catalog key and parameters that tell a user about ``exc`` in their own language.

    The one translator from exceptions to words: the engine's replies and the job runner's
    notices both come from here. Times among the details read as UTC.
    """
    details = {k: (format_time(v, "UTC") if isinstance(v, datetime) else v) for k, v in exc.details.items()}
    kind = exc.kind
    code = details.get("reason_code")
    if kind == "mask_mismatch" and code:
        details["reason"] = Text(f"mask_reason_{code}")
    if kind in ("drawing_rejected", "painter_denied"):
        details["reason"] = Text(f"painter_reason_{details.get('reason', 'forged')}")
    if isinstance(exc, BadCommand) and "command" in details:
        details["usage"] = Text(f"admin_usage_{details['command']}")
    return kind, details
