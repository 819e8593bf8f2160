"""What goes into one edit call and what comes back.

Invariant: an :class:`EditResult` holds at least one image, and every image's bytes start with
the magic of PNG, JPEG, WEBP or GIF (checked by the client before it returns).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.media import PreparedInputs


@dataclass(frozen=True, slots=True)
class EditRequest:
    """One edit: prepared inputs, the prompt and the options sent with them.

    ``user`` is a pseudonymous id (:meth:`core.identity.UserKey.pseudonym`), never a raw
    platform id; it goes out as ``safety_identifier`` (or ``user`` where the catalogue says the
    model needs the old field). Every option left ``None`` stays out of the request so the API uses
    its default. The size sent is ``inputs.size``, chosen by the image pipeline.
    """

    inputs: PreparedInputs
    prompt: str
    model: str
    n: int = 1
    quality: str | None = None
    user: str | None = None
    input_fidelity: str | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens the API says the edit used; any figure may be missing."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class EditResult:
    """The edited images (encoded bytes) plus what the API reported about the call.

    ``model`` is the model name the response gave (relays sometimes substitute one), or the
    requested model when the response named none. ``created`` is the API's Unix timestamp.
    """

    images: tuple[bytes, ...]
    model: str
    usage: Usage | None = None
    created: int | None = None
