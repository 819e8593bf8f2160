"""Checking an :class:`EditRequest` against its model and turning it into multipart form parts.

Validation runs before anything is sent, so a request the API would refuse (and might bill for
the upload) fails fast with an :class:`~core.errors.InputError` that names the limit.

Multipart shape per model family:

- dall-e-2: one ``image`` part, ``response_format=b64_json`` (its default is a URL that expires).
- GPT-image (and unknown names): ``image`` for one image, repeated ``image[]`` for several;
  ``response_format`` is never sent because those models reject it.
- Optional ``mask`` part; ``prompt``, ``model``, ``n``, ``size`` always; ``quality`` and ``user``
  only when set. Every file part carries a filename and a content type.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.editapi.types import EditRequest
from core.errors import (
    ImageTooLarge,
    InputError,
    InvalidOption,
    MaskMismatch,
    PromptMissing,
    PromptTooLong,
    TooManyImages,
    UnsupportedImage,
)
from core.media import PreparedImage
from core.models import Family, ModelSpec

_CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}

FilePart = tuple[str, tuple[str, bytes, str]]
"""``(field name, (filename, bytes, content type))`` — the shape httpx's ``files=`` takes."""


@dataclass(frozen=True, slots=True)
class MultipartBody:
    """The text fields and file parts of one edit request, in sending order."""

    fields: dict[str, str]
    files: list[FilePart]


def validate(req: EditRequest, spec: ModelSpec) -> None:
    """Raise the :class:`~core.errors.InputError` the API would answer with, if ``req`` breaks ``spec``."""
    model = spec.name
    if req.user is not None and req.user.isdigit():
        # Telegram and Discord ids are numbers; the API must only ever see a pseudonym.
        raise ValueError("EditRequest.user must be a pseudonym (UserKey.pseudonym), not a platform id")
    if not req.prompt.strip():
        raise PromptMissing("the prompt is empty", model=model)
    if len(req.prompt) > spec.max_prompt_chars:
        raise PromptTooLong(
            f"prompt has {len(req.prompt)} characters, {model} accepts {spec.max_prompt_chars}",
            length=len(req.prompt),
            limit=spec.max_prompt_chars,
            model=model,
        )
    if not 1 <= req.n <= spec.max_n:
        raise InvalidOption(
            f"n={req.n} is outside 1..{spec.max_n}",
            option="n",
            value=req.n,
            model=model,
            choices=f"1-{spec.max_n}",
        )
    if req.quality is not None and req.quality not in spec.qualities:
        raise InvalidOption(
            f"quality {req.quality!r} is not valid for {model}",
            option="quality",
            value=req.quality,
            model=model,
            choices=", ".join(spec.qualities),
        )
    if req.inputs.size not in spec.sizes:
        raise InvalidOption(
            f"size {req.inputs.size!r} is not valid for {model}",
            option="size",
            value=req.inputs.size,
            model=model,
            choices=", ".join(spec.sizes),
        )
    _validate_images(req, spec)


def _validate_images(req: EditRequest, spec: ModelSpec) -> None:
    images, mask, model = req.inputs.images, req.inputs.mask, spec.name
    if not images:
        raise InputError("an edit needs at least one image", model=model)
    if len(images) > spec.max_images:
        raise TooManyImages(
            f"{len(images)} images, {model} accepts {spec.max_images}",
            count=len(images),
            limit=spec.max_images,
            model=model,
        )
    for image in images:
        _check_part(image, spec, spec.input_formats)
    if mask is None:
        return
    if not spec.supports_mask:
        raise InvalidOption(
            f"{model} does not take a mask", option="mask", value=mask.filename, model=model, choices="none"
        )
    # The mask is always a PNG with alpha, whatever the photos are (core.media invariant).
    _check_part(mask, spec, ("PNG",))
    first = images[0]
    if (mask.width, mask.height) != (first.width, first.height):
        raise MaskMismatch(
            f"mask is {mask.width}x{mask.height}, image is {first.width}x{first.height}",
            reason=f"the mask is {mask.width}x{mask.height} but the photo is {first.width}x{first.height}",
        )


def _check_part(part: PreparedImage, spec: ModelSpec, formats: tuple[str, ...]) -> None:
    if not part.filename or not part.content_type:
        # A part without them is sent as a text field, which the API rejects as "expected file".
        raise UnsupportedImage(f"{part.filename or 'a part'} lacks a filename or content type")
    allowed = {_CONTENT_TYPES[f] for f in formats if f in _CONTENT_TYPES}
    if part.content_type not in allowed:
        raise UnsupportedImage(
            f"{part.content_type} is not accepted by {spec.name}", content_type=part.content_type
        )
    if len(part.data) > spec.max_image_bytes:
        raise ImageTooLarge(
            f"{part.filename} has {len(part.data)} bytes, {spec.name} accepts {spec.max_image_bytes}",
            size_mb=round(len(part.data) / 2**20, 1),
            limit_mb=round(spec.max_image_bytes / 2**20, 1),
        )


def build_multipart(req: EditRequest, spec: ModelSpec) -> MultipartBody:
    """The form fields and file parts for ``req`` (call :func:`validate` first)."""
    fields: dict[str, str] = {
        "prompt": req.prompt,
        "model": req.model,
        "n": str(req.n),
        "size": req.inputs.size,
    }
    if req.quality is not None:
        fields["quality"] = req.quality
    if req.user is not None:
        fields["user"] = req.user
    if spec.sends_response_format:
        fields["response_format"] = "b64_json"

    images = req.inputs.images
    # GPT-image takes several images only as the array form; one image goes as plain `image`
    # because that is what dall-e-2 and most relays' single-image paths expect.
    name = "image[]" if len(images) > 1 and spec.family is Family.GPT_IMAGE else "image"
    files: list[FilePart] = [(name, (i.filename, i.data, i.content_type)) for i in images]
    mask = req.inputs.mask
    if mask is not None:
        files.append(("mask", (mask.filename, mask.data, mask.content_type)))
    return MultipartBody(fields=fields, files=files)
