"""Early, cheap checks of an edit before anything is reserved or downloaded.

Explicit options the user chose are validated strictly (a clear error); saved preferences that
do not fit the chosen model are dropped silently, since the user did not ask for them now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core import errors
from core.actions import Text
from core.catalogue import Family, ModelCatalogue, ModelSpec
from core.events import EditOptions
from core.refs import ImageRef


@dataclass(frozen=True, slots=True)
class EditSpec:
    """A validated edit ready to reserve: inputs, prompt and resolved options."""

    images: tuple[ImageRef, ...]
    mask: ImageRef | None
    prompt: str
    model: str
    options: EditOptions


def check_image_meta(ref: ImageRef, max_bytes: int) -> None:
    """Refuse a file from its platform metadata alone: too large, or plainly not an image."""
    if ref.size is not None and ref.size > max_bytes:
        raise errors.ImageTooLarge(size=ref.size, limit=max_bytes)
    if ref.mime is not None and not ref.mime.startswith("image/"):
        raise errors.UnsupportedImage(mime=ref.mime)


def _pick(
    name: str, explicit: str | None, preferred: str | None, allowed: Sequence[str], model: str
) -> str | None:
    if explicit is not None:
        if explicit not in allowed:
            raise errors.InvalidOption(option=name, value=explicit, model=model, choices=", ".join(allowed))
        return explicit
    return preferred if preferred in allowed else None


def build_edit(
    images: Sequence[ImageRef],
    mask: ImageRef | None,
    prompt: str,
    options: EditOptions,
    preferences: EditOptions,
    *,
    default_model: str,
    allowed_models: Sequence[str],
    max_input_bytes: int,
    catalogue: ModelCatalogue,
) -> tuple[EditSpec, list[Text]]:
    """Validate an edit and resolve its options; returns the spec and notices to show the user."""
    notices: list[Text] = []
    model = options.model or (preferences.model if preferences.model in allowed_models else None)
    model = model or default_model
    if model not in allowed_models:
        raise errors.InvalidOption(
            option="model", value=model, model=model, choices=", ".join(allowed_models)
        )
    spec: ModelSpec = catalogue.spec(model)

    prompt = prompt.strip()
    if not prompt:
        raise errors.PromptMissing()
    if len(prompt) > spec.max_prompt_chars:
        raise errors.PromptTooLong(length=len(prompt), limit=spec.max_prompt_chars, model=model)

    if not images:
        raise errors.InputError("no image")
    if len(images) > spec.max_images:
        notices.append(Text("using_first_images", {"model": model, "limit": spec.max_images}))
        images = images[: spec.max_images]
    for ref in (*images, *([mask] if mask else [])):
        check_image_meta(ref, max_input_bytes)
    if mask is not None and not spec.supports_mask:
        notices.append(Text("mask_ignored", {"model": model}))
        mask = None
    if spec.family is Family.DALLE2 and mask is None and not any(ref.mime == "image/png" for ref in images):
        # dall-e-2 edits only transparent areas; an opaque photo without a mask has none.
        raise errors.MaskRequired(model=model)

    size = _pick_size(options.size, preferences.size, spec)
    quality = _pick("quality", options.quality, preferences.quality, spec.qualities, model)
    n = options.n if options.n is not None else preferences.n
    if n is not None and not 1 <= n <= spec.max_n:
        if options.n is not None:
            raise errors.InvalidOption(option="n", value=str(n), model=model, choices=f"1-{spec.max_n}")
        n = None
    cutout = options.cutout if options.cutout is not None else preferences.cutout
    if cutout and not spec.transparent:
        if options.cutout:
            raise errors.InvalidOption(option="cutout", value="on", model=model, choices="off")
        cutout = None
    keep = options.keep_details if options.keep_details is not None else preferences.keep_details
    previews = options.previews if options.previews is not None else preferences.previews
    resolved = EditOptions(
        model=model,
        size=size,
        quality=quality,
        n=n or 1,
        keep_details=keep,
        cutout=cutout or None,
        previews=previews,
    )
    return EditSpec(tuple(images), mask, prompt, model, resolved), notices


def _pick_size(explicit: str | None, preferred: str | None, spec: ModelSpec) -> str | None:
    """The size asked for: a preset, tier or free ``WxH`` the model takes (explicit ones strictly)."""
    if explicit is not None:
        if not spec.accepts_size(explicit):
            raise errors.InvalidOption(
                option="size", value=explicit, model=spec.name, choices=", ".join(spec.size_choices())
            )
        return explicit
    return preferred if preferred is not None and spec.accepts_size(preferred) else None
