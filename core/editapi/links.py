"""Finding image links in the free text of a chat-completion answer.

Relays that wrap image models in a chat API answer with prose around the result: a markdown
image ``![alt](url)``, a bare URL, or an inline ``data:image/...;base64,...`` URL. Rules:

- markdown images and data URLs are taken in order of appearance;
- bare ``http(s)`` URLs count only when the text has neither: relays that show a markdown image
  often add a "download" link to the same picture, which must not become a second result;
- trailing punctuation (ASCII or CJK) is not part of a bare URL;
- each link appears once in the result, first occurrence wins.
"""

from __future__ import annotations

import re

_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/_-]+={0,2}")
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?(?P<url>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_BARE_URL = re.compile(r"https?://[^\s<>\"'`()\[\]{}]+")
_TRAILING = ".,;:!?'\"，。；：！？、）】》」』"


def extract_image_links(text: str) -> list[str]:
    """The image links in ``text``: markdown images and data URLs, else bare http(s) URLs."""
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for match in _MARKDOWN_IMAGE.finditer(text):
        url = match.group("url")
        if url.startswith(("http://", "https://", "data:")):
            found.append((match.start(), url))
            taken.append(match.span())
    for match in _DATA_URL.finditer(text):
        if not _inside(match.start(), taken):
            found.append((match.start(), match.group()))
            taken.append(match.span())
    if not found:
        for match in _BARE_URL.finditer(text):
            url = match.group().rstrip(_TRAILING)
            if len(url) > len("https://"):
                found.append((match.start(), url))
    found.sort(key=lambda item: item[0])
    return list(dict.fromkeys(url for _, url in found))


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= pos < end for start, end in spans)
