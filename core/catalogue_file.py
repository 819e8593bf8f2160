"""Reading the operator's model file (``EDITBOT_MODELS``, TOML) into catalogue entries.

Each ``[models."NAME"]`` table starts from a family's rules (``family = "gpt-image-2.5"``, or any
known model name) and changes what it lists. Unknown keys and wrong types are errors that name the
file, the model and the key, so a typo never silently keeps the old rule.

    [models."gpt-image-2-vip"]
    family = "gpt-image-2"
    description = "relay VIP: billed per call"
    price_per_call = 0.04
    credits = 2
    stream = false
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from core.catalogue import FreeSizes, ModelCatalogue, ModelSpec, is_wxh
from core.errors import ConfigError

MiB = 1024 * 1024


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("a list of strings")
    return tuple(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("a whole number >= 0")
    return value


def _positive(value: Any) -> int:
    if _int(value) < 1:
        raise TypeError("a whole number >= 1")
    return int(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TypeError("a number >= 0")
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true or false")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a string")
    return value


def _day(value: Any) -> date | None:
    # `retired = false` un-retires a model a relay still serves (silences the start-up warning).
    if value is False:
        return None
    if not isinstance(value, date):
        raise TypeError("a date such as 2026-10-23, or false")
    return value


def _sizes(value: Any) -> tuple[str, ...]:
    sizes = _strings(value)
    bad = [s for s in sizes if s != "auto" and not is_wxh(s)]
    if bad:
        raise TypeError(f"sizes such as 1024x1024 or auto (not {', '.join(bad)})")
    return sizes


def _identifier(value: Any) -> str:
    if value not in ("safety_identifier", "user"):
        raise TypeError('"safety_identifier" or "user"')
    return str(value)


# Key -> (ModelSpec field, converter). Prices and byte limits are handled beside these.
_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "description": ("description", _text),
    "sizes": ("sizes", _sizes),
    "qualities": ("qualities", _strings),
    "input_fidelity": ("input_fidelity", _strings),
    "output_formats": ("output_formats", _strings),
    "markup": ("markup", _bool),
    "stream": ("stream", _bool),
    "transparent": ("transparent", _bool),
    "mask": ("supports_mask", _bool),
    "max_n": ("max_n", _positive),
    "max_images": ("max_images", _positive),
    "max_prompt_chars": ("max_prompt_chars", _positive),
    "credits": ("credits", _int),
    "identifier_field": ("identifier_field", _identifier),
    "retired": ("retired", _day),
    "replacement": ("replacement", _text),
}
_PRICE_FIELDS: dict[str, str] = {
    "price_per_call": "per_call",
    "input_price_per_million": "input_per_million",
    "output_price_per_million": "output_per_million",
}
_OTHER = {"family", "free_sizes", "max_image_mb", *_PRICE_FIELDS}


def load_catalogue(path: str | Path | None, base: ModelCatalogue | None = None) -> ModelCatalogue:
    """The built-in catalogue with the entries of the TOML file at ``path`` (none: built-ins only)."""
    catalogue = base or ModelCatalogue()
    if path is None:
        return catalogue
    where = Path(path)
    try:
        doc = tomllib.loads(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"EDITBOT_MODELS: cannot read {where}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"EDITBOT_MODELS: {where} is not valid TOML: {exc}") from None
    return catalogue.with_entries(parse_entries(doc, catalogue, str(where)))


def parse_entries(doc: Mapping[str, Any], catalogue: ModelCatalogue, source: str) -> list[ModelSpec]:
    """The specs a parsed TOML document declares; ConfigError naming ``source``, model and key."""
    unknown_top = set(doc) - {"models"}
    if unknown_top:
        raise ConfigError(f"EDITBOT_MODELS: {source}: unknown table(s) {', '.join(sorted(unknown_top))}")
    models = doc.get("models", {})
    if not isinstance(models, dict):
        raise ConfigError(f"EDITBOT_MODELS: {source}: [models] must be a table of models")
    return [_entry(name, table, catalogue, source) for name, table in models.items()]


def _entry(name: str, table: Any, catalogue: ModelCatalogue, source: str) -> ModelSpec:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"EDITBOT_MODELS: {source}: model {name!r}: {message}")

    if not isinstance(table, dict):
        raise fail("must be a table")
    unknown = set(table) - set(_FIELDS) - _OTHER
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}")
    family = table.get("family", name)
    start = catalogue.base(family) if isinstance(family, str) else None
    if start is None:
        if "family" in table:
            raise fail(f"unknown family {family!r}")
        start = catalogue.spec(name)
    spec = replace(start, name=name)
    changes: dict[str, Any] = {}
    for key, (attr, convert) in _FIELDS.items():
        if key in table:
            try:
                changes[attr] = convert(table[key])
            except TypeError as exc:
                raise fail(f"{key} must be {exc}") from None
    prices: dict[str, float] = {}
    for key, attr in _PRICE_FIELDS.items():
        if key in table:
            try:
                prices[attr] = _number(table[key])
            except TypeError as exc:
                raise fail(f"{key} must be {exc}") from None
    if prices:
        # A token price given without a per-call one switches the model to token pricing.
        per_call = prices.pop("per_call", None)
        changes["price"] = replace(
            spec.price,
            per_call=per_call,
            input_per_million=prices.get("input_per_million", spec.price.input_per_million),
            output_per_million=prices.get("output_per_million", spec.price.output_per_million),
        )
    if "max_image_mb" in table:
        try:
            changes["max_image_bytes"] = int(_number(table["max_image_mb"]) * MiB)
        except TypeError as exc:
            raise fail(f"max_image_mb must be {exc}") from None
    if "free_sizes" in table:
        try:
            changes["free_sizes"] = FreeSizes() if _bool(table["free_sizes"]) else None
        except TypeError as exc:
            raise fail(f"free_sizes must be {exc}") from None
    spec = replace(spec, **changes)
    if table.get("retired") is False:
        spec = replace(spec, replacement=None)
    elif "retired" not in table and "replacement" not in table and "family" in table:
        # Deriving from a retired family's rules does not retire a relay's own model.
        spec = replace(spec, retired=None, replacement=None)
    if not spec.description and "description" not in table:
        spec = replace(spec, description=start.description)
    return spec
