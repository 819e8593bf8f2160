"""Message entities for the fake Bot API: UTF-16 offsets and auto-detection.

Invariants: every offset and length is counted in UTF-16 code units, as the Bot API does; entity lists are
sorted by (offset, -length). The bot sends plain text (no ``parse_mode``), so the fake parses no markup:
it refuses a ``parse_mode`` rather than pretend to render it.
"""

from __future__ import annotations

import re
from typing import Any

Entity = dict[str, Any]


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (an astral emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def sort_entities(entities: list[Entity]) -> list[Entity]:
    """Drop empty entities and order them like Telegram does."""
    kept = [e for e in entities if e.get("length", 0) > 0]
    return sorted(kept, key=lambda e: (e["offset"], -e["length"]))


_AUTO_PATTERNS = (
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}(?![\w@])")),
    ("url", re.compile(r"https?://[^\s<>\"']+")),
    ("hashtag", re.compile(r"(?<![\w#])#[^\W\d][\w]*")),
)


def auto_entities(text: str) -> list[Entity]:
    """Entities Telegram's clients and servers detect in plain user text (commands, mentions, URLs, tags)."""
    found: list[Entity] = []
    for kind, pattern in _AUTO_PATTERNS:
        for m in pattern.finditer(text):
            found.append(
                {"type": kind, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())}
            )
    return sort_entities(found)


def strip_text(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Trim surrounding whitespace like Telegram does, shifting and clipping entities to match."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    end = utf16_len(stripped)
    out = []
    for e in entities:
        start = max(e["offset"] - lead, 0)
        stop = min(e["offset"] + e["length"] - lead, end)
        if stop > start:
            out.append({**e, "offset": start, "length": stop - start})
    return stripped, sort_entities(out)
