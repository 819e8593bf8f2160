"""What an edit costs in credits: a table of rules by model, quality and size, per result image.

The price is known before the edit runs (it is what gets reserved) and comes from the options as
requested: a quality or size left to the API counts as ``auto``. After the edit only the number
of images that actually came back can lower it, never raise it.

Rule syntax (EDITBOT_CREDITS), comma-separated ``MODEL[:QUALITY][@SIZE]=CREDITS``:

    gpt-image-1:high=3, dall-e-2=1, *@1536x1024=2, gpt-image-*:low=1

``MODEL`` is a model name or a glob (``*`` for every model); ``QUALITY`` (low, medium, high,
xhigh, max, auto, standard) and ``SIZE`` (``1024x1024``, ``auto``, or a resolution tier ``1k``,
``2k``, ``4k``, which matches every size of that tier) default to ``*``. ``CREDITS`` is a
whole number >= 0, charged per result image. The most specific matching rule wins: a named
quality or size counts 2, a named model 2, a model glob 1; on a tie the rule written later wins,
and the operator's rules come after the built-in ones (:data:`DEFAULT_RULES`). A model the
operator's EDITBOT_MODELS file gives a flat ``credits`` costs that per image, whatever the rules say.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from core.catalogue import tier_of
from core.events import EditOptions

ANY = "*"

DEFAULT_RULES = (
    "*=1, *:high=2, *@1536x1024=2, *@1024x1536=2, *:high@1536x1024=3, *:high@1024x1536=3, "
    "*:xhigh=3, *:max=4, *@2k=2, *@4k=4, *:high@2k=3, *:high@4k=6, *:xhigh@2k=4, *:xhigh@4k=8, "
    "*:max@2k=6, *:max@4k=10"
)
"""Built-in prices per image: 1, 2 for high quality, 2 for the large sizes, 3 for both; the 2.5
models' ``xhigh`` and ``max`` qualities and the 2K/4K tiers cost more, roughly as their tokens do.

Roughly the shape of the GPT-image list prices (medium 1024² is the unit) without making the
common edit expensive: dall-e-2 (only ``standard`` quality, square sizes) costs 1, and the default
edit (the photo's own shape at 1K) costs 1.
"""

_RULE = re.compile(
    r"^(?P<model>[^:@=\s]+)(?::(?P<quality>[^:@=\s]+))?(?:@(?P<size>[^:@=\s]+))?=(?P<credits>\d{1,6})$"
)


@dataclass(frozen=True, slots=True)
class CreditRule:
    """Credits per result image for edits matching ``model`` (a glob), ``quality`` and ``size``."""

    model: str
    quality: str
    size: str
    credits: int

    def matches(self, model: str, quality: str, size: str) -> bool:
        """True when the rule applies to an edit with these (resolved) options."""
        sizes = (ANY, size, tier_of(size))
        return fnmatchcase(model, self.model) and self.quality in (ANY, quality) and self.size in sizes

    @property
    def specificity(self) -> int:
        """How much the rule names: a named quality or size 2 each, a model 2 (a glob 1)."""
        if self.model == ANY:
            model = 0
        elif any(c in self.model for c in "*?["):
            model = 1
        else:
            model = 2
        return model + (2 if self.quality != ANY else 0) + (2 if self.size != ANY else 0)


def parse_rules(text: str) -> tuple[CreditRule, ...]:
    """Rules from the EDITBOT_CREDITS syntax; raises ValueError naming the bad part."""
    rules = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        found = _RULE.match(part.replace(" ", ""))
        if found is None:
            raise ValueError(f"credit rule {part!r} is not MODEL[:QUALITY][@SIZE]=CREDITS")
        rules.append(
            CreditRule(
                model=found["model"].lower(),
                quality=(found["quality"] or ANY).lower(),
                size=(found["size"] or ANY).lower(),
                credits=int(found["credits"]),
            )
        )
    return tuple(rules)


class CreditTable:
    """Prices per result image; built-in rules with the operator's on top."""

    def __init__(self, rules: tuple[CreditRule, ...] = (), flat: Mapping[str, int] | None = None) -> None:
        self.rules = parse_rules(DEFAULT_RULES) + rules
        self.flat = {name.lower(): credits for name, credits in (flat or {}).items()}
        # Most specific first; among equals the later rule first (stable sort on the reversed list).
        self._ordered = sorted(reversed(self.rules), key=lambda r: -r.specificity)

    @classmethod
    def from_setting(cls, text: str | None, flat: Mapping[str, int] | None = None) -> CreditTable:
        """The table for an EDITBOT_CREDITS value (None or empty: the built-in rules only), with the
        flat per-model prices of the operator's model file."""
        return cls(parse_rules(text or ""), flat)

    def per_image(self, model: str, quality: str | None, size: str | None) -> int:
        """Credits one result image costs."""
        model, quality, size = model.lower(), (quality or "auto").lower(), (size or "auto").lower()
        if model in self.flat:
            return self.flat[model]
        for rule in self._ordered:
            if rule.matches(model, quality, size):
                return rule.credits
        return 1  # unreachable with the built-in "*=1", kept for safety

    def for_edit(self, model: str, options: EditOptions) -> int:
        """Credits to reserve for an edit: the per-image price times ``n``."""
        return self.per_image(model, options.quality, options.size) * max(1, options.n or 1)

    def for_result(self, model: str, options: EditOptions, images: int, reserved: int) -> int:
        """Credits to charge once ``images`` came back: never more than was reserved."""
        return min(reserved, self.per_image(model, options.quality, options.size) * max(0, images))
