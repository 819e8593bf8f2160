"""Estimated cost in US dollars of one edit, recorded on the job for operators' reports.

From the API's token usage when it reports any (gpt-image-1 list prices: image input $10 and
image output $40 per million tokens; text input is $5/M, but the usage the client parses does not
split text from image input, so all input is priced as image input — a slight overestimate).
Relays often give only ``total_tokens``: then the output tokens are estimated from the images'
size and quality and the rest counts as input. Without usage (dall-e-2, many relays), a list
price per image by size and quality. Unknown model names are priced like their family.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.editapi import Usage
from core.models import Family, spec_for

INPUT_PER_TOKEN = 10.0 / 1_000_000
OUTPUT_PER_TOKEN = 40.0 / 1_000_000

# gpt-image-1 output tokens per image, by quality and size tier (OpenAI's pricing table).
OUTPUT_TOKENS: dict[tuple[str, str], int] = {
    ("low", "square"): 272,
    ("medium", "square"): 1056,
    ("high", "square"): 4160,
    ("low", "large"): 408,
    ("medium", "large"): 1584,
    ("high", "large"): 6240,
}

# Price per image without usage figures.
GPT_IMAGE_PRICES: dict[tuple[str, str], float] = {
    ("low", "square"): 0.011,
    ("medium", "square"): 0.042,
    ("high", "square"): 0.167,
    ("low", "large"): 0.016,
    ("medium", "large"): 0.063,
    ("high", "large"): 0.25,
}
DALLE2_PRICES: dict[int, float] = {256: 0.016, 512: 0.018, 1024: 0.020}


def _quality(quality: str | None) -> str:
    # "auto" (or unset) is priced as medium: the API does not say what it picked.
    return quality if quality in ("low", "medium", "high") else "medium"


def _tier(size: tuple[int, int]) -> str:
    return "large" if max(size) > 1024 else "square"


def _dalle2_side(size: tuple[int, int]) -> int:
    side = max(size)
    return 256 if side <= 256 else 512 if side <= 512 else 1024


def estimate_cost(
    model: str, quality: str | None, sizes: Sequence[tuple[int, int]], usage: Usage | None
) -> float | None:
    """US dollars for an edit that returned images of ``sizes`` (width, height); None if none came."""
    if not sizes:
        return None
    if spec_for(model).family is Family.DALLE2:
        return round(sum(DALLE2_PRICES[_dalle2_side(s)] for s in sizes), 6)
    q = _quality(quality)
    if usage is not None and (usage.input_tokens is not None or usage.output_tokens is not None):
        cost = (usage.input_tokens or 0) * INPUT_PER_TOKEN + (usage.output_tokens or 0) * OUTPUT_PER_TOKEN
        return round(cost, 6)
    if usage is not None and usage.total_tokens:
        output = min(usage.total_tokens, sum(OUTPUT_TOKENS[(q, _tier(s))] for s in sizes))
        cost = (usage.total_tokens - output) * INPUT_PER_TOKEN + output * OUTPUT_PER_TOKEN
        return round(cost, 6)
    return round(sum(GPT_IMAGE_PRICES[(q, _tier(s))] for s in sizes), 6)
