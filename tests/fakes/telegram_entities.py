"""Message entities for the fake Bot API: UTF-16 offsets, auto-detection, HTML and Markdown parsing.

Invariants: every offset and length is counted in UTF-16 code units, as the Bot API does; entity lists are
sorted by (offset, -length); parse errors carry the Bot API's own wording ("Bad Request: can't parse
entities: ...") so a bot that builds bad markup fails here the way it would fail against Telegram.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

Entity = dict[str, Any]


class EntityParseError(ValueError):
    """The text does not parse in the requested parse_mode; str() is the Bot API's description."""


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


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Apply ``parse_mode`` (HTML, MarkdownV2, Markdown or none) and return plain text plus entities."""
    mode = (parse_mode or "").lower()
    if not mode:
        return text, []
    if mode == "html":
        return _HtmlEntityParser(text).result()
    if mode in ("markdownv2", "markdown"):
        return _MarkdownParser(text, v2=mode == "markdownv2").result()
    raise EntityParseError(f"Bad Request: unsupported parse_mode {parse_mode!r}")


def _fail(reason: str) -> EntityParseError:
    return EntityParseError(f"Bad Request: can't parse entities: {reason}")


_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}


class _HtmlEntityParser(HTMLParser):
    """Telegram's HTML subset: a closed set of tags, nesting checked, entities in UTF-16 units."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._parts: list[str] = []
        self._length = 0
        self._stack: list[tuple[str, Entity]] = []
        self._entities: list[Entity] = []
        self.feed(source)
        self.close()

    def _byte_offset(self) -> int:
        line, col = self.getpos()
        lines = self._source.split("\n")
        prefix = "\n".join(lines[: line - 1]) + ("\n" if line > 1 else "") + lines[line - 1][:col]
        return len(prefix.encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        kind = _HTML_SIMPLE.get(tag)
        entity: Entity = {"offset": self._length}
        if tag == "span" and attributes.get("class") == "tg-spoiler":
            kind = "spoiler"
        elif tag == "a" and attributes.get("href"):
            href = attributes["href"] or ""
            if m := re.fullmatch(r"tg://user\?id=(\d+)", href):
                kind, entity["user"] = (
                    "text_mention",
                    {"id": int(m.group(1)), "is_bot": False, "first_name": ""},
                )
            else:
                kind, entity["url"] = "text_link", href
        elif tag == "tg-emoji" and attributes.get("emoji-id"):
            kind, entity["custom_emoji_id"] = "custom_emoji", attributes["emoji-id"]
        elif tag == "blockquote" and "expandable" in attributes:
            kind = "expandable_blockquote"
        if kind is None:
            raise _fail(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        if kind == "code" and self._stack and self._stack[-1][1]["type"] == "pre":
            language = (attributes.get("class") or "").removeprefix("language-")
            if language:
                self._stack[-1][1]["language"] = language
        entity["type"] = kind
        self._stack.append((tag, entity))

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            raise _fail(f"Unexpected end tag at byte offset {self._byte_offset()}")
        open_tag, entity = self._stack.pop()
        if open_tag != tag:
            raise _fail(
                f'Unmatched end tag at byte offset {self._byte_offset()}, expected "</{open_tag}>", '
                f'found "</{tag}>"'
            )
        entity["length"] = self._length - entity["offset"]
        nested_code_in_pre = entity["type"] == "code" and self._stack and self._stack[-1][1]["type"] == "pre"
        if not nested_code_in_pre:
            self._entities.append(entity)

    def handle_data(self, data: str) -> None:
        self._parts.append(data)
        self._length += utf16_len(data)

    def result(self) -> tuple[str, list[Entity]]:
        """Plain text and entities, or the Bot API's error for an unclosed tag."""
        if self._stack:
            raise _fail(f'Can\'t find end tag corresponding to start tag "{self._stack[-1][0]}"')
        return "".join(self._parts), sort_entities(self._entities)


_V2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_TOGGLES_V2 = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}
_TOGGLES_V1 = {"*": "bold", "_": "italic"}


class _MarkdownParser:
    """MarkdownV2 (strict escaping, reserved characters rejected) and legacy Markdown."""

    def __init__(self, source: str, *, v2: bool) -> None:
        self._src = source
        self._v2 = v2
        self._out: list[str] = []
        self._length = 0
        self._open: list[tuple[str, Entity, int]] = []  # (marker, entity, byte offset in source)
        self._entities: list[Entity] = []
        self._parse()

    def _emit(self, text: str) -> None:
        self._out.append(text)
        self._length += utf16_len(text)

    def _byte(self, index: int) -> int:
        return len(self._src[:index].encode())

    def _parse(self) -> None:
        src, i, toggles = self._src, 0, _TOGGLES_V2 if self._v2 else _TOGGLES_V1
        while i < len(src):
            ch = src[i]
            if ch == "\\" and i + 1 < len(src) and (self._v2 or src[i + 1] in "_*`["):
                self._emit(src[i + 1])
                i += 2
            elif src.startswith("```", i):
                i = self._code_block(i)
            elif ch == "`":
                i = self._inline_code(i)
            elif ch == "[":
                self._open.append(("[", {"type": "text_link", "offset": self._length}, self._byte(i)))
                i += 1
            elif ch == "]" and self._open and self._open[-1][0] == "[":
                i = self._link_target(i)
            elif self._v2 and ch == ">" and (i == 0 or src[i - 1] == "\n"):
                end = src.find("\n", i)
                end = len(src) if end == -1 else end
                start = self._length
                inner = _MarkdownParser(src[i + 1 : end], v2=True)
                for e in inner._entities:
                    self._entities.append({**e, "offset": e["offset"] + start})
                self._emit("".join(inner._out))
                self._entities.append({"type": "blockquote", "offset": start, "length": self._length - start})
                i = end
            else:
                marker = next((m for m in ("__", "||") if self._v2 and src.startswith(m, i)), ch)
                if marker in toggles:
                    self._toggle(marker, toggles[marker], i)
                    i += len(marker)
                elif self._v2 and ch in _V2_RESERVED:
                    raise _fail(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
                else:
                    self._emit(ch)
                    i += 1
        if self._open:
            raise _fail(f"Can't find end of the entity starting at byte offset {self._open[-1][2]}")
        self._merge_blockquotes()

    def _toggle(self, marker: str, kind: str, index: int) -> None:
        if self._open and self._open[-1][0] == marker:
            _, entity, _ = self._open.pop()
            entity["length"] = self._length - entity["offset"]
            self._entities.append(entity)
        elif any(m == marker for m, _, _ in self._open):
            raise _fail(f"Can't find end of the entity starting at byte offset {self._open[-1][2]}")
        else:
            self._open.append((marker, {"type": kind, "offset": self._length}, self._byte(index)))

    def _closing(self, start: int, token: str) -> int:
        i = start
        while i < len(self._src):
            if self._src[i] == "\\" and self._v2:
                i += 2
                continue
            if self._src.startswith(token, i):
                return i
            i += 1
        raise _fail(f"Can't find end of the entity starting at byte offset {self._byte(start - len(token))}")

    def _unescape(self, text: str) -> str:
        return re.sub(r"\\(.)", r"\1", text, flags=re.S) if self._v2 else text

    def _inline_code(self, i: int) -> int:
        end = self._closing(i + 1, "`")
        offset = self._length
        self._emit(self._unescape(self._src[i + 1 : end]))
        self._entities.append({"type": "code", "offset": offset, "length": self._length - offset})
        return end + 1

    def _code_block(self, i: int) -> int:
        end = self._closing(i + 3, "```")
        body = self._src[i + 3 : end]
        entity: Entity = {"type": "pre", "offset": self._length}
        first, newline, rest = body.partition("\n")
        if newline and first and re.fullmatch(r"[\w+#-]+", first):
            entity["language"], body = first, rest
        self._emit(self._unescape(body))
        entity["length"] = self._length - entity["offset"]
        self._entities.append(entity)
        return end + 3

    def _link_target(self, i: int) -> int:
        _, entity, _ = self._open.pop()
        if not self._src.startswith("(", i + 1):
            if self._v2:
                raise _fail("Character ']' is reserved and must be escaped with the preceding '\\'")
            self._emit("]")
            return i + 1
        end = self._closing(i + 2, ")")
        url = self._unescape(self._src[i + 2 : end])
        if m := re.fullmatch(r"tg://user\?id=(\d+)", url):
            entity["type"], entity["user"] = (
                "text_mention",
                {"id": int(m.group(1)), "is_bot": False, "first_name": ""},
            )
        else:
            entity["url"] = url
        entity["length"] = self._length - entity["offset"]
        self._entities.append(entity)
        return end + 1

    def _merge_blockquotes(self) -> None:
        merged: list[Entity] = []
        for e in sorted(self._entities, key=lambda e: e["offset"]):
            prev = merged[-1] if merged else None
            if (
                e["type"] == "blockquote"
                and prev is not None
                and prev["type"] == "blockquote"
                and prev["offset"] + prev["length"] + 1 == e["offset"]
            ):
                prev["length"] += 1 + e["length"]
                continue
            merged.append(e)
        self._entities = merged

    def result(self) -> tuple[str, list[Entity]]:
        """Plain text and entities."""
        return "".join(self._out), sort_entities(self._entities)
