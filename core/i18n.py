"""Message catalogs: ``core/locales/<locale>/*.json``, merged per locale, English as the fallback.

Each area keeps its own file (errors.json, engine.json, telegram.json, ...) so they grow
independently. Keys missing in a locale fall back to English; a key missing everywhere
renders as the key itself so a gap is visible but never crashes a reply.

The catalogs are data files of the ``core`` package (found through it, never the working
directory). A missing or empty catalog is a broken installation: :func:`check_catalogs` says so
when a bot starts, instead of every reply silently showing bare keys.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from core.actions import Text
from core.errors import ConfigError, EditbotError
from core.quotas.rules import format_time

_ROOT = Path(__file__).parent / "locales"
FALLBACK = "en"


@cache
def catalog(locale: str) -> dict[str, str]:
    """All messages of one locale (merged files)."""
    folder = _ROOT / locale
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


def check_catalogs(root: Path | None = None) -> int:
    """Fail loudly when the catalogs did not ship; the number of English messages when they did.

    Raises :class:`core.errors.ConfigError` naming what is missing: no locales folder, no
    English catalog, a locale without files, a file that is empty or not a JSON object of strings.
    """
    folder = root or _ROOT
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


class _Formatter(string.Formatter):
    """Fills a template; a parameter that is itself a catalog message renders in the same language.

    ``{name:variant}`` on such a parameter renders its ``<key>_<variant>`` message instead, so a
    sentence can ask for the form it needs ("{period:this}" -> "today" where "{period}" -> "day").
    A placeholder with no value stays visible as ``{name}`` rather than failing the whole reply.
    """

    def __init__(self, locale: str) -> None:
        self._locale = locale

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(str(key), _Missing(str(key)))

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, _Missing):
            return "{" + value.name + "}"
        if isinstance(value, Text):
            key = f"{value.key}_{format_spec}" if format_spec else value.key
            return render(self._locale, Text(key, value.params))
        return str(super().format_field(value, format_spec))


class _Missing:
    def __init__(self, name: str) -> None:
        self.name = name


def render(locale: str, text: Text | str, **params: Any) -> str:
    """The message in ``locale`` with its parameters filled in."""
    if isinstance(text, Text):
        key, values = text.key, {**text.params, **params}
    else:
        key, values = text, params
    template = catalog(locale).get(key) or catalog(FALLBACK).get(key) or key
    return _Formatter(locale).vformat(template, (), values)


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
    return kind, details
