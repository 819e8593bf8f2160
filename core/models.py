"""Capabilities of edit models: what each accepts, so inputs are validated before any paid call.

dall-e-2 has its own strict rules; every other name (gpt-image-1, gpt-image-1.5, whatever a relay
adds) gets the GPT-image rules unless the operator configures otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Family(StrEnum):
    """How the API treats a model's request and response."""

    DALLE2 = "dall-e-2"
    GPT_IMAGE = "gpt-image"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What one model accepts."""

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

    @property
    def sends_response_format(self) -> bool:
        """dall-e-2 takes ``response_format``; GPT-image models reject it."""
        return self.family is Family.DALLE2

    def pixel_sizes(self) -> list[tuple[int, int]]:
        """The concrete ``WxH`` sizes (without ``auto``)."""
        out = []
        for s in self.sizes:
            if s != "auto":
                w, h = s.split("x")
                out.append((int(w), int(h)))
        return out


DALLE2 = ModelSpec(
    name="dall-e-2",
    family=Family.DALLE2,
    sizes=("256x256", "512x512", "1024x1024"),
    default_size="1024x1024",
    qualities=("standard",),
    input_formats=("PNG",),
    max_image_bytes=4 * 1024 * 1024,
    max_images=1,
    max_prompt_chars=1000,
    max_n=10,
    supports_mask=True,
    square_only=True,
)

GPT_IMAGE_1 = ModelSpec(
    name="gpt-image-1",
    family=Family.GPT_IMAGE,
    sizes=("1024x1024", "1536x1024", "1024x1536", "auto"),
    default_size="auto",
    qualities=("low", "medium", "high", "auto"),
    input_formats=("PNG", "JPEG", "WEBP"),
    max_image_bytes=50 * 1024 * 1024,
    max_images=16,
    max_prompt_chars=32000,
    max_n=10,
    supports_mask=True,
    square_only=False,
)

KNOWN: dict[str, ModelSpec] = {DALLE2.name: DALLE2, GPT_IMAGE_1.name: GPT_IMAGE_1}


def spec_for(model: str) -> ModelSpec:
    """The spec of ``model``; unknown names get GPT-image rules under their own name."""
    known = KNOWN.get(model)
    if known is not None:
        return known
    if model.startswith("dall-e-2"):
        return replace(DALLE2, name=model)
    return replace(GPT_IMAGE_1, name=model)
