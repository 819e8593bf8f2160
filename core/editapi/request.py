"""Checking an :class:`EditRequest` against its model and turning it into multipart form parts.

Validation runs before anything is sent, so a request the API would refuse (and might bill for
the upload) fails fast with an :class:`~core.errors.InputError` that names the limit.

Multipart shape per model family:

- dall-e-2: one ``image`` part, ``response_format=b64_json`` (its default is a URL that expires).
- GPT-image (and unknown names): ``image`` for one image, repeated ``image[]`` for several;
  ``response_format`` is never sent because those models reject it.
- Optional ``mask`` or ``markup`` part (never both); ``prompt``, ``model``, ``n``, ``size`` always;
  ``quality``, ``input_fidelity``, ``background``, ``output_format``, ``output_compression`` only
  when set; the pseudonym as ``safety_identifier`` (``user`` where the catalogue says so). Every file
  part carries a filename and a content type.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.catalogue import Family, ModelSpec
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
    if req.inputs.size not in spec.sizes and not spec.accepts_size(req.inputs.size):
        raise InvalidOption(
            f"size {req.inputs.size!r} is not valid for {model}",
            option="size",
            value=req.inputs.size,
            model=model,
            choices=", ".join(spec.sizes),
        )
    _validate_outputs(req, spec)
    _validate_images(req, spec)


def _choice(option: str, value: str | None, allowed: tuple[str, ...], model: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidOption(
            f"{option} {value!r} is not valid for {model}",
            option=option,
            value=value,
            model=model,
            choices=", ".join(allowed) or "none",
        )


def _validate_outputs(req: EditRequest, spec: ModelSpec) -> None:
    model = spec.name
    _choice("input_fidelity", req.input_fidelity, spec.input_fidelity, model)
    _choice("output_format", req.output_format, spec.output_formats, model)
    _choice(
        "background", req.background, ("transparent", "opaque", "auto") if spec.transparent else (), model
    )
    if req.background == "transparent" and (req.output_format or "png") not in ("png", "webp"):
        raise InvalidOption(
            "a transparent background needs PNG or WebP output",
            option="output_format",
            value=req.output_format,
            model=model,
            choices="png, webp",
        )
    if req.output_compression is not None and (
        req.output_format not in ("jpeg", "webp") or not 0 <= req.output_compression <= 100
    ):
        raise InvalidOption(
            "output_compression needs jpeg or webp output and a value 0-100",
            option="output_compression",
            value=req.output_compression,
            model=model,
            choices="0-100",
        )


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
    markup = req.inputs.markup
    if markup is not None:
        if not spec.markup:
            raise InvalidOption(
                f"{model} does not take markup",
                option="markup",
                value=markup.filename,
                model=model,
                choices="none",
            )
        if mask is not None:
            raise InvalidOption(
                "markup cannot be combined with a mask", option="mask", model=model, choices="-"
            )
        _check_same_size(markup, images[0], "markup")
        _check_part(markup, spec, ("PNG",))
    if mask is None:
        return
    if not spec.supports_mask:
        raise InvalidOption(
            f"{model} does not take a mask", option="mask", value=mask.filename, model=model, choices="none"
        )
    # The mask is always a PNG with alpha, whatever the photos are (core.media invariant).
    _check_part(mask, spec, ("PNG",), limit=spec.max_mask_bytes)
    _check_same_size(mask, images[0], "mask")


def _check_same_size(part: PreparedImage, first: PreparedImage, what: str) -> None:
    if (part.width, part.height) != (first.width, first.height):
        raise MaskMismatch(
            f"{what} is {part.width}x{part.height}, image is {first.width}x{first.height}",
            reason=f"the {what} is {part.width}x{part.height} but the photo is {first.width}x{first.height}",
        )


def _check_part(
    part: PreparedImage, spec: ModelSpec, formats: tuple[str, ...], *, limit: int | None = None
) -> None:
    if not part.filename or not part.content_type:
        # A part without them is sent as a text field, which the API rejects as "expected file".
        raise UnsupportedImage(f"{part.filename or 'a part'} lacks a filename or content type")
    allowed = {_CONTENT_TYPES[f] for f in formats if f in _CONTENT_TYPES}
    if part.content_type not in allowed:
        raise UnsupportedImage(
            f"{part.content_type} is not accepted by {spec.name}", content_type=part.content_type
        )
    limit = spec.max_image_bytes if limit is None else limit
    if len(part.data) > limit:
        raise ImageTooLarge(
            f"{part.filename} has {len(part.data)} bytes, {spec.name} accepts {limit}",
            size=len(part.data),
            limit=limit,
        )


def build_multipart(req: EditRequest, spec: ModelSpec) -> MultipartBody:
    """The form fields and file parts for ``req`` (call :func:`validate` first)."""
    fields: dict[str, str] = {
        "prompt": req.prompt,
        "model": req.model,
        "n": str(req.n),
        "size": req.inputs.size,
    }
    optional = {
        "quality": req.quality,
        "input_fidelity": req.input_fidelity,
        "background": req.background,
        "output_format": req.output_format,
        "output_compression": None if req.output_compression is None else str(req.output_compression),
        spec.identifier_field: req.user,
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    if spec.sends_response_format:
        fields["response_format"] = "b64_json"

    images = req.inputs.images
    # GPT-image takes several images only as the array form; one image goes as plain `image`
    # because that is what dall-e-2 and most relays' single-image paths expect.
    name = "image[]" if len(images) > 1 and spec.family is Family.GPT_IMAGE else "image"
    files: list[FilePart] = [(name, (i.filename, i.data, i.content_type)) for i in images]
    for field, part in (("mask", req.inputs.mask), ("markup", req.inputs.markup)):
        if part is not None:
            files.append((field, (part.filename, part.data, part.content_type)))
    return MultipartBody(fields=fields, files=files)
