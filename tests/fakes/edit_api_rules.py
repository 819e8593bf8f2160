"""What the fake edit API accepts: request parsing and the real API's validation rules, per model family."""

from __future__ import annotations

import asyncio
import functools
import io
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web
from PIL import Image

MiB = 1024 * 1024
_CTYPE_FORMAT = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
_STANDARD = ("1024x1024", "1536x1024", "1024x1536", "auto")
_GPT_FIELDS = {
    "image",
    "image[]",
    "mask",
    "prompt",
    "model",
    "n",
    "size",
    "quality",
    "user",
    "background",
} | {
    "output_format",
    "output_compression",
    "input_fidelity",
    "moderation",
    "safety_identifier",
    "stream",
    "partial_images",
}


@dataclass(frozen=True)
class Rules:
    """What one model family accepts (written from the SDK's parameter docs, not from editbot's code)."""

    sizes: tuple[str, ...] = _STANDARD
    free_sizes: bool = False
    qualities: tuple[str, ...] = ("low", "medium", "high", "auto")
    fidelity: tuple[str, ...] = ("high", "low")
    markup: bool = False
    transparent: bool = True
    prompt: int = 32000
    max_bytes: int = 50 * MiB
    fields: frozenset[str] = frozenset(_GPT_FIELDS)
    dalle2: bool = False


_DALLE2 = Rules(
    sizes=("256x256", "512x512", "1024x1024"),
    qualities=("standard",),
    fidelity=(),
    transparent=False,
    prompt=1000,
    max_bytes=4 * MiB,
    fields=frozenset({"image", "mask", "prompt", "model", "n", "size", "response_format", "user", "quality"}),
    dalle2=True,
)
_GPT = Rules()
_GPT_2 = Rules(free_sizes=True, fidelity=())
_GPT_25 = Rules(
    free_sizes=True, fidelity=(), markup=True, qualities=("low", "medium", "high", "xhigh", "max", "auto")
)
_NO_CUTOUT = Rules(fidelity=(), transparent=False)

# Longest prefix first: relays' own names (`gpt-image-2-vip`, `gpt-image-2.5-flare-web`) follow their family.
FAMILIES: tuple[tuple[str, Rules], ...] = (
    ("gpt-image-2.5", _GPT_25),
    ("gpt-image-2.6", _NO_CUTOUT),
    ("gpt-image-2", _GPT_2),
    ("gpt-image-1-mini", Rules(fidelity=("low",))),
    ("gpt-image-1.5", _GPT),
    ("gpt-image-1", _GPT),
    ("chatgpt-image", _NO_CUTOUT),
    ("dall-e-2", _DALLE2),
)
RETIRED: dict[str, str] = {
    "gpt-image-1": "GPT Image 1 was shut down on October 23, 2026. Use gpt-image-2.5-sunburst or "
    "gpt-image-2.5-flare instead.",
    "dall-e-2": "This model was retired on May 12, 2026. Use a GPT image model instead.",
}


def rules_for(model: str) -> Rules:
    """The rules a model name follows; names of no known family get GPT-image rules."""
    return next((rules for prefix, rules in FAMILIES if model.startswith(prefix)), _GPT)


def _free_size_problem(size: str) -> str | None:
    w, _, h = size.partition("x")
    if not (w.isdigit() and h.isdigit()):
        return "expected WIDTHxHEIGHT"
    width, height = int(w), int(h)
    if width % 16 or height % 16:
        return "width and height must be divisible by 16"
    if max(width / height, height / width) > 3:
        return "the aspect ratio must be between 1:3 and 3:1"
    if width * height > 3840 * 2160 or max(width, height) > 3840:
        return "the maximum supported resolution is 3840x2160"
    return None


_FILE_FIELDS = {"image", "image[]", "mask", "markup"}


@dataclass
class ReceivedFile:
    """One file part as received (``name`` is the form field), with what Pillow made of it."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes
    format: str | None = None
    mode: str | None = None
    width: int | None = None
    height: int | None = None
    min_alpha: int | None = None  # the lowest alpha of an RGBA image (0 = has transparent pixels)

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` when the bytes decoded as an image."""
        return None if self.width is None or self.height is None else (self.width, self.height)


@dataclass
class ReceivedRequest:
    """One POST as the fake saw it: headers, text fields (each may repeat) and file parts."""

    path: str
    headers: dict[str, str]
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[ReceivedFile] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)  # when the whole request had arrived

    def value(self, name: str) -> str | None:
        """The (first) value of text field ``name``."""
        values = self.fields.get(name)
        return values[0] if values else None

    @property
    def images(self) -> list[ReceivedFile]:
        """The ``image`` / ``image[]`` parts in order."""
        return [f for f in self.files if f.name in ("image", "image[]")]

    @property
    def mask(self) -> ReceivedFile | None:
        """The ``mask`` part, if one came."""
        return next((f for f in self.files if f.name == "mask"), None)

    @property
    def markup(self) -> ReceivedFile | None:
        """The ``markup`` part, if one came."""
        return next((f for f in self.files if f.name == "markup"), None)


class Reject(Exception):
    """A 4xx answer in OpenAI's error shape."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None, status: int = 400):
        super().__init__(message)
        self.response = error_response(status, message, param=param, code=code)


def error_response(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return web.json_response(body, status=status)


def _bad_type(name: str, expected: str, got: str) -> Reject:
    return Reject(
        f"Invalid type for '{name}': expected {expected}, but got {got} instead.", name, "invalid_type"
    )


def _missing(name: str) -> Reject:
    return Reject(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        choices = ", ".join(f"'{a}'" for a in allowed)
        raise Reject(f"Invalid value: '{value}'. Supported values are: {choices}.", name, "invalid_value")


DEFAULT_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("Invalid request.", "invalid_value"),
    401: ("Incorrect API key provided: sk-fa***ef.", "invalid_api_key"),
    403: ("Your organization must be verified to use the model.", None),
    404: ("The model 'x' does not exist or you do not have access to it.", "model_not_found"),
    429: ("Rate limit reached for requests.", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error"),
}


def check(
    req: ReceivedRequest, api_key: str, unknown_models: set[str], *, serve_retired: bool = False
) -> dict[str, Any]:
    """The answer plan for a valid request; raises :class:`Reject` with the API's error otherwise.

    Retired models are refused with OpenAI's 404 unless ``serve_retired`` (a relay that still has them).
    """
    auth = req.headers.get("Authorization")
    if not auth:
        raise Reject("You didn't provide an API key. Provide it in an Authorization header.", status=401)
    if auth != f"Bearer {api_key}":
        shown = auth.removeprefix("Bearer ")
        msg = f"Incorrect API key provided: {shown[:5]}***{shown[-2:]}."
        raise Reject(msg, code="invalid_api_key", status=401)
    for name, values in req.fields.items():
        if name in _FILE_FIELDS:
            raise _bad_type(name, "a file", "a string")
        if len(values) > 1:
            raise Reject(f"Duplicate parameter: '{name}'.", name, "duplicate_parameter")
    for f in req.files:
        if f.name not in _FILE_FIELDS:
            raise _bad_type(f.name, "a string", "a file")
    prompt = req.value("prompt")
    if not prompt:
        raise _missing("prompt")
    if not req.images:
        raise _missing("image")
    model = req.value("model") or "dall-e-2"  # the API's historical default when no model is named
    if model in unknown_models:
        msg = f"The model '{model}' does not exist or you do not have access to it."
        raise Reject(msg, code="model_not_found", status=404)
    if model in RETIRED and not serve_retired:
        raise Reject(
            f"The model '{model}' has been deprecated. {RETIRED[model]}", "model", "model_not_found", 404
        )
    rules = rules_for(model)
    for name in [*req.fields, *(f.name for f in req.files)]:
        if name not in rules.fields and not (name == "markup" and rules.markup):
            raise Reject(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    if len(prompt) > rules.prompt:
        msg = f"Invalid 'prompt': string too long. Expected a string with maximum length {rules.prompt}"
        raise Reject(
            f"{msg}, but got a string with length {len(prompt)} instead.",
            "prompt",
            "string_above_max_length",
        )
    n = _int_field(req, "n", 1)
    if not 1 <= n <= 10:
        raise Reject(f"Invalid 'n': expected a value between 1 and 10, got {n}.", "n", "integer_out_of_range")
    size = req.value("size") or ("1024x1024" if rules.dalle2 else "auto")
    if not (rules.free_sizes and size not in rules.sizes):
        _one_of("size", size, rules.sizes)
    elif (problem := _free_size_problem(size)) is not None:
        raise Reject(f"Invalid 'size' {size!r}: {problem}.", "size", "invalid_value")
    quality = req.value("quality")
    if quality is not None:
        _one_of("quality", quality, rules.qualities)
    fmt = req.value("response_format") or "url"
    _one_of("response_format", fmt, ("url", "b64_json"))
    output = _check_outputs(req, rules, model)
    _check_images(req, rules)
    stream = _check_stream(req, n)
    return {"model": model, "dalle2": rules.dalle2, "n": n, "size": size, "format": fmt, **output, **stream}


def _check_stream(req: ReceivedRequest, n: int) -> dict[str, Any]:
    stream = req.value("stream")
    if stream is None or stream == "false":
        if req.value("partial_images") is not None:
            raise Reject("partial_images requires stream=true.", "partial_images")
        return {"stream": False}
    _one_of("stream", stream, ("true", "false"))
    if n != 1:
        raise Reject("Streaming is only supported with n=1.", "stream", "invalid_value")
    partials = _int_field(req, "partial_images", 0)
    if not 0 <= partials <= 3:
        raise Reject(f"Invalid 'partial_images': expected 0-3, got {partials}.", "partial_images")
    return {"stream": True, "partials": partials}


def _check_outputs(req: ReceivedRequest, rules: Rules, model: str) -> dict[str, Any]:
    fidelity = req.value("input_fidelity")
    if fidelity is not None:
        if not rules.fidelity:
            raise Reject(
                f"input_fidelity is not supported for model '{model}'.", "input_fidelity", "unsupported"
            )
        _one_of("input_fidelity", fidelity, rules.fidelity)
    output_format = req.value("output_format") or "png"
    _one_of("output_format", output_format, ("png", "jpeg", "webp"))
    background = req.value("background") or "auto"
    _one_of("background", background, ("transparent", "opaque", "auto"))
    if background == "transparent":
        if not rules.transparent:
            raise Reject(f"Transparent background is not supported for model '{model}'.", "background")
        if output_format == "jpeg":
            raise Reject("Transparent background requires output_format png or webp.", "background")
    compression = req.value("output_compression")
    if compression is not None:
        if output_format == "png":
            raise Reject("output_compression is only supported with jpeg or webp.", "output_compression")
        if not compression.isdigit() or not 0 <= int(compression) <= 100:
            raise Reject("Invalid 'output_compression': expected 0-100.", "output_compression")
    identifier = req.value("safety_identifier") or req.value("user")
    return {
        "output_format": output_format,
        "background": background,
        "compression": int(compression) if compression is not None else None,
        "fidelity": fidelity,
        "identifier": identifier,
    }


def _int_field(req: ReceivedRequest, name: str, default: int) -> int:
    raw = req.value(name)
    try:
        return default if raw is None else int(raw)
    except ValueError:
        raise _bad_type(name, "an integer", "a string") from None


def _check_images(req: ReceivedRequest, rules: Rules) -> None:
    images, names = req.images, {f.name for f in req.images}
    if rules.dalle2 and (len(images) != 1 or names != {"image"}):
        raise Reject("dall-e-2 accepts exactly one 'image'.", "image", "invalid_value")
    if names == {"image"} and len(images) > 1:
        raise Reject("Duplicate parameter: 'image'. Send several images as 'image[]'.", "image")
    if len(names) > 1:
        raise Reject("Send images either as 'image' or as 'image[]', not both.", "image")
    if len(images) > 16:
        raise Reject(f"Invalid 'image': too many images ({len(images)}), at most 16.", "image")
    for k, f in enumerate(images, 1):
        _check_file(f, rules, f"image {k}")
        if not rules.dalle2:
            continue
        if f.format != "PNG":
            raise Reject("Uploaded image must be a PNG and less than 4 MB.", "image")
        if f.width != f.height:
            raise Reject("Uploaded image must be square.", "image")
        if f.mode not in ("RGBA", "LA", "L"):
            raise Reject(
                f"Invalid input image - format must be in ['RGBA', 'LA', 'L'], got {f.mode}.", "image"
            )
    masks = [f for f in req.files if f.name == "mask"]
    markups = [f for f in req.files if f.name == "markup"]
    if len(masks) > 1 or len(markups) > 1:
        raise Reject("Duplicate parameter: 'mask' or 'markup'.", "mask")
    if masks and markups:
        raise Reject("'markup' cannot be combined with 'mask'.", "markup")
    if markups:
        markup = markups[0]
        _check_file(markup, rules, "markup")
        if markup.format != "PNG" or markup.mode != "RGBA":
            raise Reject("Invalid markup image: the markup must be a transparent PNG.", "markup")
        if markup.size != images[0].size:
            raise Reject(
                f"Invalid markup: size {markup.size} does not match image size {images[0].size}.", "markup"
            )
        if markup.min_alpha is None or markup.min_alpha > 0:
            raise Reject("Invalid markup image: it must contain transparent pixels.", "markup")
    if masks:
        mask = masks[0]
        _check_file(mask, rules, "mask", limit=4 * MiB)
        if mask.format != "PNG" or mask.mode is None or "A" not in mask.mode:
            raise Reject("Invalid mask image: the mask must be a PNG with an alpha channel.", "mask")
        if mask.size != images[0].size:
            msg = f"Invalid mask image: mask size {mask.size} does not match image size {images[0].size}."
            raise Reject(msg, "mask")


def _check_file(f: ReceivedFile, rules: Rules, what: str, limit: int | None = None) -> None:
    if not f.filename:
        raise _bad_type(f.name, "a file", "a string")
    if f.content_type not in _CTYPE_FORMAT:
        msg = f"Invalid file '{f.name}': unsupported mimetype ('{f.content_type}'). Supported file formats"
        raise Reject(
            f"{msg} are 'image/jpeg', 'image/png', and 'image/webp'.", f.name, "unsupported_file_mimetype"
        )
    cap = rules.max_bytes if limit is None else limit
    if len(f.data) >= cap:
        raise Reject(f"Invalid {what}: file too large (limit {cap} bytes).", f.name)
    if f.format is None or _CTYPE_FORMAT[f.content_type] != f.format:
        msg = f"Invalid image file or mode for {what}, please check your image file."
        raise Reject(msg, f.name, "invalid_image_format")


async def read_request(request: web.Request) -> ReceivedRequest:
    received = ReceivedRequest(path=request.path, headers=dict(request.headers))
    if request.content_type != "multipart/form-data":
        raise Reject(f"Invalid Content-Type header ({request.content_type}), expected multipart/form-data.")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise Reject("Nested multipart bodies are not supported.")
            data = bytearray()
            while chunk := await part.read_chunk(256 * 1024):
                data += chunk
                if len(data) > 50 * MiB:
                    raise Reject("Request entity too large.", status=413)
            name = part.name or ""
            if part.filename is None:
                text = bytes(data).decode("utf-8", errors="replace")
                received.fields.setdefault(name, []).append(text)
            else:
                received.files.append(
                    ReceivedFile(name, part.filename, part.headers.get("Content-Type"), bytes(data))
                )
    except (ValueError, AssertionError, UnicodeDecodeError) as exc:
        raise Reject(f"Could not parse multipart form: {exc}") from None
    await asyncio.to_thread(_decode_all, received.files)
    return received


def _decode_all(files: list[ReceivedFile]) -> None:
    for f in files:
        decoded = _decode(f.data)
        if decoded is not None:
            f.format, f.mode, (f.width, f.height), f.min_alpha = decoded


@functools.lru_cache(maxsize=8)
def _decode(data: bytes) -> tuple[str | None, str, tuple[int, int], int | None] | None:
    """What Pillow makes of ``data`` (format, mode, size, lowest alpha); None when it is no image.

    Kept for the last few distinct files: the same bytes decode the same (a burst of one photo)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            low = int(img.getchannel("A").getextrema()[0]) if img.mode == "RGBA" else None
            return img.format, img.mode, img.size, low
    except Exception:
        return None  # left undecoded: the rules answer 400 for it
