"""The model catalogue: what each edit model accepts and costs, so inputs are checked before any paid call.

Built-in entries follow the ``openai`` SDK 3.57 (November 2026). Operators declare relay models or
change a rule without touching code, in the TOML file named by ``EDITBOT_MODELS``
(:mod:`core.catalogue_file`). A name the catalogue does not know still works, with permissive
GPT-image rules under its own name.

Invariants: every spec's ``sizes`` holds only presets (``WxH`` or ``auto``); a spec with
``free_sizes`` also takes any ``WxH`` those rules allow; a retired spec names its replacement.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

MiB = 1024 * 1024

STANDARD_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
GPT_QUALITIES = ("low", "medium", "high", "auto")
OUTPUT_FORMATS = ("png", "jpeg", "webp")

TIERS: dict[str, int] = {"1k": 1536, "2k": 2560, "4k": 3840}
"""Resolution tiers users pick, by the long edge of the size asked for (1536x864 is 1K at 16:9)."""


class Family(StrEnum):
    """How the API treats a model's request and response (the wire protocol, not the rules)."""

    DALLE2 = "dall-e-2"
    GPT_IMAGE = "gpt-image"


class PhotoShape(StrEnum):
    """How an edit's output size is chosen when the user asked for none."""

    PRESET = "preset"  # the nearest standard size by aspect ratio
    PHOTO = "photo"  # the photo's own aspect ratio at the 1K tier (free-size models)


@dataclass(frozen=True, slots=True)
class FreeSizes:
    """Rules for arbitrary ``WxH`` sizes (gpt-image-2 and 2.5)."""

    multiple: int = 16
    max_ratio: float = 3.0
    max_pixels: int = 3840 * 2160
    max_edge: int = 3840
    min_edge: int = 256

    def problem(self, width: int, height: int) -> str | None:
        """Why ``width`` x ``height`` is not allowed, or None."""
        if width % self.multiple or height % self.multiple:
            return f"both sides must be multiples of {self.multiple}"
        if max(width, height) > self.max_edge or min(width, height) < self.min_edge:
            return f"each side must be {self.min_edge}-{self.max_edge} pixels"
        if max(width / height, height / width) > self.max_ratio + 1e-9:
            return f"the aspect ratio must be between 1:{self.max_ratio:g} and {self.max_ratio:g}:1"
        if width * height > self.max_pixels:
            return f"at most {self.max_pixels} pixels"
        return None

    def nearest(self, aspect: float, long_edge: int) -> tuple[int, int]:
        """The valid size closest to ``aspect`` (width / height) whose long edge is about ``long_edge``."""
        aspect = min(max(aspect, 1 / self.max_ratio), self.max_ratio)
        edge = min(long_edge, self.max_edge)
        while True:
            wide = aspect >= 1
            w = self._round(edge if wide else edge * aspect)
            h = self._round(edge / aspect if wide else edge)
            if w * h <= self.max_pixels and self.problem(w, h) is None:
                return w, h
            # Over the pixel budget (4K at a squarish ratio): shrink the edge to fit it.
            edge = self._round(edge * math.sqrt(self.max_pixels / max(w * h, 1)) - self.multiple / 2)

    def _round(self, value: float) -> int:
        return max(self.min_edge, min(self.max_edge, round(value / self.multiple) * self.multiple))


@dataclass(frozen=True, slots=True)
class Price:
    """What the API charges: per call, or per million tokens (image input / image output).

    Without usage figures, output tokens are estimated per image: ``output_tokens`` at 1024x1024
    by quality, scaled by the pixel count asked for.
    """

    per_call: float | None = None
    input_per_million: float = 0.0
    output_per_million: float = 0.0
    output_tokens: Mapping[str, int] = field(
        default_factory=lambda: {"low": 272, "medium": 1056, "high": 4160, "xhigh": 6240, "max": 8320}
    )


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What one model accepts, costs and is good for."""

    name: str
    family: Family
    sizes: tuple[str, ...]
    default_size: str
    qualities: tuple[str, ...]
    input_formats: tuple[str, ...]  # Pillow format names the API accepts as-is
    max_image_bytes: int
    max_images: int
    max_prompt_chars: int
    max_n: int
    supports_mask: bool
    square_only: bool
    max_mask_bytes: int = 4 * MiB
    free_sizes: FreeSizes | None = None
    input_fidelity: tuple[str, ...] = ()  # values it takes; () = never send the field
    markup: bool = False
    stream: bool = False
    output_formats: tuple[str, ...] = ()  # () = the API picks (no output_format field)
    transparent: bool = False
    identifier_field: str = "safety_identifier"  # or "user" for models/relays that need the old field
    retired: date | None = None
    replacement: str | None = None
    price: Price = field(default_factory=Price)
    credits: int | None = None  # flat credits per result image; None = the credit rules decide
    description: str = ""

    @property
    def sends_response_format(self) -> bool:
        """dall-e-2 takes ``response_format``; GPT-image models reject it."""
        return self.family is Family.DALLE2

    @property
    def shape(self) -> PhotoShape:
        """Whether a photo keeps its own shape when no size was asked for."""
        return PhotoShape.PHOTO if self.free_sizes is not None else PhotoShape.PRESET

    def pixel_sizes(self) -> list[tuple[int, int]]:
        """The concrete preset ``WxH`` sizes (without ``auto``)."""
        return [parse_size(s) for s in self.sizes if s != "auto"]

    def size_choices(self) -> tuple[str, ...]:
        """What a user may pick: the presets, plus the resolution tiers on free-size models."""
        return (*self.sizes, *TIERS) if self.free_sizes is not None else self.sizes

    def accepts_size(self, size: str) -> bool:
        """True for a preset, a tier (free-size models) or a valid free ``WxH``."""
        if size in self.size_choices():
            return True
        if self.free_sizes is None or not is_wxh(size):
            return False
        return self.free_sizes.problem(*parse_size(size)) is None


def is_wxh(size: str) -> bool:
    """True for ``"1536x864"``-shaped strings."""
    w, sep, h = size.partition("x")
    return bool(sep) and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0


def parse_size(size: str) -> tuple[int, int]:
    """``"1536x1024"`` -> ``(1536, 1024)``."""
    w, h = size.split("x")
    return int(w), int(h)


def tier_of(size: str) -> str | None:
    """The resolution tier a size falls in (``1k``/``2k``/``4k``), or None for ``auto``."""
    if size in TIERS:
        return size
    if not is_wxh(size):
        return None
    edge = max(parse_size(size))
    return next((name for name, limit in TIERS.items() if edge <= limit), "4k")


# --- built-in entries --------------------------------------------------------------------------

_GPT_BASE = ModelSpec(
    name="gpt-image",
    family=Family.GPT_IMAGE,
    sizes=STANDARD_SIZES,
    default_size="auto",
    qualities=GPT_QUALITIES,
    input_formats=("PNG", "JPEG", "WEBP"),
    max_image_bytes=50 * MiB,
    max_images=16,
    max_prompt_chars=32000,
    max_n=10,
    supports_mask=True,
    square_only=False,
    output_formats=OUTPUT_FORMATS,
    transparent=True,
    stream=True,
    price=Price(input_per_million=10.0, output_per_million=40.0),
)

DALLE2 = ModelSpec(
    name="dall-e-2",
    family=Family.DALLE2,
    sizes=("256x256", "512x512", "1024x1024"),
    default_size="1024x1024",
    qualities=("standard",),
    input_formats=("PNG",),
    max_image_bytes=4 * MiB,
    max_images=1,
    max_prompt_chars=1000,
    max_n=10,
    supports_mask=True,
    square_only=True,
    identifier_field="user",
    retired=date(2026, 5, 12),
    replacement="gpt-image-2.5-flare",
    price=Price(per_call=None, input_per_million=0.0, output_per_million=0.0),
    description="retired DALL·E 2: square only, needs a mask",
)

GPT_IMAGE_1 = replace(
    _GPT_BASE,
    name="gpt-image-1",
    stream=True,
    retired=date(2026, 10, 23),
    replacement="gpt-image-2.5-flare",
    description="retired GPT Image 1",
)
GPT_IMAGE_1_MINI = replace(
    _GPT_BASE,
    name="gpt-image-1-mini",
    input_fidelity=("low",),
    price=Price(input_per_million=2.5, output_per_million=8.0),
    description="cheapest; simple edits",
)
GPT_IMAGE_15 = replace(
    _GPT_BASE,
    name="gpt-image-1.5",
    input_fidelity=("high", "low"),
    price=Price(input_per_million=8.0, output_per_million=32.0),
    description="keeps faces and details (high input fidelity)",
)
GPT_IMAGE_2 = replace(
    _GPT_BASE,
    name="gpt-image-2",
    free_sizes=FreeSizes(),
    price=Price(input_per_million=8.0, output_per_million=30.0),
    description="any size and shape",
)
GPT_IMAGE_25_FLARE = replace(
    GPT_IMAGE_2,
    name="gpt-image-2.5-flare",
    qualities=("low", "medium", "high", "xhigh", "max", "auto"),
    markup=True,
    price=Price(input_per_million=5.0, output_per_million=20.0),
    description="fast: the best for chat; follows drawn markup",
)
GPT_IMAGE_25_SUNBURST = replace(
    GPT_IMAGE_25_FLARE,
    name="gpt-image-2.5-sunburst",
    price=Price(input_per_million=10.0, output_per_million=40.0),
    description="precise edits, slower; follows drawn markup",
)
GPT_IMAGE_26_FLARE = replace(
    _GPT_BASE,
    name="gpt-image-2.6-flare",
    transparent=False,
    price=Price(input_per_million=5.0, output_per_million=20.0),
    description="newest fast model, standard sizes",
)
GPT_IMAGE_26_SUNBURST = replace(
    GPT_IMAGE_26_FLARE,
    name="gpt-image-2.6-sunburst",
    price=Price(input_per_million=10.0, output_per_million=40.0),
    description="newest precise model, standard sizes",
)
CHATGPT_IMAGE_LATEST = replace(
    _GPT_BASE,
    name="chatgpt-image-latest",
    transparent=False,
    description="the model ChatGPT uses today",
)


def _snapshot(spec: ModelSpec, day: str) -> ModelSpec:
    return replace(spec, name=f"{spec.name}-{day}", description=f"{spec.description} ({day} snapshot)")


BUILTIN: tuple[ModelSpec, ...] = (
    GPT_IMAGE_25_FLARE,
    GPT_IMAGE_25_SUNBURST,
    _snapshot(GPT_IMAGE_25_FLARE, "2026-09-08"),
    _snapshot(GPT_IMAGE_25_SUNBURST, "2026-09-08"),
    GPT_IMAGE_26_FLARE,
    GPT_IMAGE_26_SUNBURST,
    GPT_IMAGE_2,
    _snapshot(GPT_IMAGE_2, "2026-04-21"),
    GPT_IMAGE_15,
    GPT_IMAGE_1_MINI,
    CHATGPT_IMAGE_LATEST,
    GPT_IMAGE_1,
    DALLE2,
)

FAMILIES: dict[str, ModelSpec] = {
    "gpt-image": _GPT_BASE,
    "gpt-image-1": GPT_IMAGE_1,
    "gpt-image-1-mini": GPT_IMAGE_1_MINI,
    "gpt-image-1.5": GPT_IMAGE_15,
    "gpt-image-2": GPT_IMAGE_2,
    "gpt-image-2.5": GPT_IMAGE_25_FLARE,
    "gpt-image-2.6": GPT_IMAGE_26_FLARE,
    "dall-e-2": DALLE2,
}
"""Rule sets an operator's entry can start from (``family = "gpt-image-2.5"``), besides any model name."""

DEFAULT_MODEL = GPT_IMAGE_25_FLARE.name


class ModelCatalogue:
    """Every model editbot knows: the built-in entries, with the operator's entries on top."""

    def __init__(self, specs: Iterable[ModelSpec] = BUILTIN) -> None:
        self._specs: dict[str, ModelSpec] = {s.name: s for s in specs}

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._specs.values())

    @property
    def names(self) -> tuple[str, ...]:
        """Known model names, built-in first."""
        return tuple(self._specs)

    def with_entries(self, specs: Iterable[ModelSpec]) -> ModelCatalogue:
        """A catalogue with ``specs`` added or replacing entries of the same name."""
        return ModelCatalogue([*self._specs.values(), *specs])

    def base(self, name: str) -> ModelSpec | None:
        """A family's or a known model's rules, for an operator's entry to start from."""
        return self._specs.get(name) or FAMILIES.get(name)

    def spec(self, model: str) -> ModelSpec:
        """The spec of ``model``; unknown names get permissive GPT-image rules under their own name."""
        known = self._specs.get(model)
        if known is not None:
            return known
        if model.startswith("dall-e-2"):
            return replace(DALLE2, name=model, retired=None, replacement=None, description="")
        # Streaming is off for names nobody described: a relay that cannot stream must not be asked to.
        return replace(_GPT_BASE, name=model, stream=False, free_sizes=None)

    def retired(self, models: Iterable[str]) -> list[ModelSpec]:
        """The specs among ``models`` that are retired."""
        return [spec for spec in map(self.spec, models) if spec.retired is not None]


BUILTIN_CATALOGUE = ModelCatalogue()
