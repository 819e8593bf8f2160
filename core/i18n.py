"""Message catalogs: ``core/locales/<locale>/*.json``, merged per locale, English as the fallback.

Each area keeps its own file (errors.json, engine.json, telegram.json, ...) so they grow
independently. Keys missing in a locale fall back to English; a key missing everywhere
renders as the key itself so a gap is visible but never crashes a reply.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from core.actions import Text
from core.errors import EditbotError

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
    return sorted(p.name for p in _ROOT.iterdir() if p.is_dir())


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


class _Default(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(locale: str, text: Text | str, **params: Any) -> str:
    """The message in ``locale`` with its parameters filled in."""
    if isinstance(text, Text):
        key, values = text.key, {**text.params, **params}
    else:
        key, values = text, params
    template = catalog(locale).get(key) or catalog(FALLBACK).get(key) or key
    # A parameter may itself be a catalog message (a period name, a phase) rendered in the same language.
    values = {k: render(locale, v) if isinstance(v, Text) else v for k, v in values.items()}
    return template.format_map(_Default(values))


def explain(exc: EditbotError) -> tuple[str, dict[str, Any]]:
    """The catalog key and parameters that tell a user about ``exc`` in their own language."""
    details = dict(exc.details)
    kind = exc.kind
    if kind == "image_too_large" and "megapixels" in details:
        kind = "image_too_many_pixels"
    code = details.get("reason_code")
    if kind == "mask_mismatch" and code:
        details["reason"] = Text(f"mask_reason_{code}")
    return kind, details
