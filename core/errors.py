"""Domain exceptions, one tree for the whole product.

Every exception carries a stable ``kind``: adapters look the kind up in the message catalogs
(``core/locales/*.json``) so users read plain words, never a traceback. ``details`` holds
values safe to show (limits, sizes); it never holds secrets.

EditbotError
├── ConfigError                      a setting is missing or invalid (operator's problem)
├── InputError                       the user sent something we cannot use (costs nothing)
│   ├── ImageTooLarge                file over the byte or pixel limit (checked before decoding)
│   │   └── ImageTooManyPixels       more pixels than the limit (a decompression bomb)
│   ├── UnsupportedImage             not a JPEG/PNG/WEBP/GIF, or not an image at all
│   ├── UnreadableImage              an image format we accept, but the data is broken
│   ├── MaskMismatch                 the mask cannot be aligned to the photo
│   ├── MaskRequired                 the model edits only masked areas, and there is no mask
│   ├── PromptTooLong / PromptMissing
│   ├── TooManyImages                more inputs than the model accepts
│   ├── InvalidOption                size/quality/n/model not valid for the model
│   ├── BadCommand                   an admin command's arguments do not parse
│   │   └── TargetMissing            the admin command needs a member to act on
│   └── DrawingRejected              a painter drawing is empty, mis-sized or not a PNG (issue 15)
├── QuotaExceeded                    no edits left this period for the user (or the member)
│   ├── QuotaInsufficient            some credits left, but fewer than this (pricier) edit needs
│   ├── CommunityQuotaExceeded       the community's (group's, server's) edits are used up
│   └── GlobalQuotaExceeded          the owners' cap across the whole bot is used up
├── Blocked                          an admin blocked the user in this community
│   └── BlockedEverywhere            a bot owner blocked the user in every chat
├── NotAllowed                       an admin command the caller's role may not run here
│   ├── OwnerOnly                    only bot owners may (global cap, blocks everywhere)
│   └── CommunityOnly                a community's setting, asked for in a private chat
├── Busy                             the user already has an edit running
├── DeliveryFailed                   the platform refused the result (too large, chat gone)
├── PainterDenied                    a painter page's token or initData is forged, stale or spent
└── EditAPIError                     the edit API refused or failed
    ├── AuthenticationFailed         401: the operator's key is wrong
    ├── PermissionDenied             403: the key may not use this model / region
    ├── BalanceExhausted             the bot's API balance is used up (429 insufficient_quota, 403
    │                                insufficient_user_quota): only the owners can fix it
    ├── ModelNotFound                the model name is unknown to the API
    │   └── ModelUnavailable         retired (404 model_not_found on a known-retired model) or not
    │                                routable by a relay (503 无可用渠道 / no available channel)
    ├── InvalidRequest               400 for any other reason
    ├── ContentRefused               moderation_blocked / content_policy_violation
    ├── RateLimited                  429 after the bounded retries; retry_after in seconds
    ├── ServerError                  5xx
    ├── APITimeout                   no answer in time (the edit may still have run: never retried)
    ├── APIConnectionError           could not reach the API after the bounded retries
    └── BadResponse                  a 2xx body we cannot read, or one without images
        ├── RelayError                   a 2xx whose body is ``{"error": ...}`` (a relay's own message)
        └── ResultUnfetchable            the answer linked a result that could not be downloaded
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

MIB = 1024 * 1024


class EditbotError(Exception):
    """Base of every editbot exception; ``kind`` names its catalog message."""

    kind: ClassVar[str] = "internal"

    def __init__(self, message: str = "", **details: Any) -> None:
        super().__init__(message or self.kind)
        self.details: dict[str, Any] = details


class ConfigError(EditbotError):
    """A setting is missing or invalid."""

    kind = "config"


class InputError(EditbotError):
    """The user's input cannot be used; nothing is charged."""

    kind = "bad_input"


def _mb(n: int) -> float | int:
    """Bytes as users read them: MiB with at most one decimal, none when whole (``30``, ``2.5``)."""
    mb = round(n / MIB, 1)
    return int(mb) if mb.is_integer() else mb


class ImageTooLarge(InputError):
    """An image exceeds the byte or pixel limit.

    Built from byte counts (``size``, ``limit``) and, for a picture with too many pixels, pixel
    counts; the details users read (``size_mb``, ``limit_mb``, ``megapixels``) are formatted here.
    """

    kind = "image_too_large"

    def __init__(self, message: str = "", *, size: int, limit: int, **details: Any) -> None:
        message = message or f"image is {size} bytes, limit {limit}"
        super().__init__(message, size_mb=_mb(size), limit_mb=_mb(limit), **details)
        self.size = size
        self.limit = limit


class ImageTooManyPixels(ImageTooLarge):
    """An image has more pixels than the limit, whatever the file weighs (a decompression bomb)."""

    kind = "image_too_many_pixels"

    def __init__(self, message: str = "", *, size: int, limit: int, pixels: int, pixel_limit: int) -> None:
        super().__init__(
            message or f"image has {pixels} pixels, limit {pixel_limit}",
            size=size,
            limit=limit,
            megapixels=round(pixels / 1e6, 1),
            limit_megapixels=round(pixel_limit / 1e6, 1),
        )


class UnsupportedImage(InputError):
    """The file is not an image in an accepted format."""

    kind = "unsupported_image"


class UnreadableImage(InputError):
    """The image is in an accepted format but cannot be decoded."""

    kind = "unreadable_image"


class MaskMismatch(InputError):
    """The mask cannot be aligned with the photo."""

    kind = "mask_mismatch"


class MaskRequired(InputError):
    """The model (dall-e-2) edits only transparent or masked areas, and none were given."""

    kind = "mask_required"


class PromptMissing(InputError):
    """No prompt was given."""

    kind = "prompt_missing"


class PromptTooLong(InputError):
    """The prompt exceeds the model's limit."""

    kind = "prompt_too_long"


class TooManyImages(InputError):
    """More input images than the model accepts."""

    kind = "too_many_images"


class InvalidOption(InputError):
    """An option (size, quality, n, model) is not valid for the model."""

    kind = "invalid_option"


class BadCommand(InputError):
    """An admin command's arguments do not parse; ``command`` names it (its usage is in the catalog)."""

    kind = "admin_bad_args"


class TargetMissing(BadCommand):
    """The admin command acts on a member and none was given (reply, mention or user option)."""

    kind = "admin_needs_target"


class QuotaExceeded(EditbotError):
    """No edits left in the current period.

    ``details``: ``scope`` (the store's scope kind), ``used`` and ``limit``; the job runner adds
    ``reset``, ``needed`` and ``left`` and raises the subclass that says which (see
    :meth:`core.jobs.JobRunner.submit`).
    """

    kind = "quota_exceeded"


class QuotaInsufficient(QuotaExceeded):
    """Some of the user's credits are left, just not enough for this (pricier) edit."""

    kind = "quota_insufficient"


class CommunityQuotaExceeded(QuotaExceeded):
    """The community's edits for this period are used up."""

    kind = "community_quota_exceeded"


class GlobalQuotaExceeded(QuotaExceeded):
    """The bot-wide cap the owners set is used up for this period."""

    kind = "global_quota_exceeded"


class Blocked(EditbotError):
    """An admin blocked the user in this community."""

    kind = "blocked"


class BlockedEverywhere(Blocked):
    """A bot owner blocked the user in every chat."""

    kind = "blocked_everywhere"


class NotAllowed(EditbotError):
    """An admin command the caller may not run here (they are not an admin of this community)."""

    kind = "admin_not_allowed"


class OwnerOnly(NotAllowed):
    """Only bot owners (EDITBOT_ADMINS) may do this: global limits, blocks everywhere."""

    kind = "admin_owner_only"


class CommunityOnly(NotAllowed):
    """The command changes a community's settings and was sent in a private chat."""

    kind = "admin_use_in_community"


class Busy(EditbotError):
    """The user already has an edit in progress."""

    kind = "busy"


class DeliveryFailed(EditbotError):
    """The platform refused the finished result; the edit is refunded."""

    kind = "delivery_failed"


class EditAPIError(EditbotError):
    """The edit API failed; ``status`` and ``code`` are what it said, when it said anything."""

    kind = "api_error"

    def __init__(
        self, message: str = "", *, status: int | None = None, code: str | None = None, **details: Any
    ) -> None:
        super().__init__(message, **details)
        self.status = status
        self.code = code


class AuthenticationFailed(EditAPIError):
    """401: the API key was rejected."""

    kind = "api_auth"


class PermissionDenied(EditAPIError):
    """403: the key may not do this."""

    kind = "api_forbidden"


class BalanceExhausted(EditAPIError):
    """The bot's API balance is used up; users are told plainly and the owners are alerted."""

    kind = "api_balance"


class ModelNotFound(EditAPIError):
    """The API does not know the model."""

    kind = "api_model_not_found"


class ModelUnavailable(ModelNotFound):
    """The model is retired, or the relay has no channel for it: "no longer available"."""

    kind = "api_model_unavailable"


class InvalidRequest(EditAPIError):
    """400: the API rejected the request."""

    kind = "api_invalid_request"


class ContentRefused(EditAPIError):
    """The API's safety system refused the edit."""

    kind = "content_refused"


class RateLimited(EditAPIError):
    """429 after the allowed retries."""

    kind = "api_rate_limited"

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        # The catalog message names the wait in whole seconds; 30 when the server gave no hint.
        self.details.setdefault("retry_after", math.ceil(retry_after) if retry_after else 30)


class ServerError(EditAPIError):
    """The API answered 5xx."""

    kind = "api_server_error"


class APITimeout(EditAPIError):
    """The API did not answer in time."""

    kind = "api_timeout"


class APIConnectionError(EditAPIError):
    """The API could not be reached."""

    kind = "api_unreachable"


class BadResponse(EditAPIError):
    """The API answered 2xx with a body we cannot use."""

    kind = "api_bad_response"


class RelayError(BadResponse):
    """A 2xx whose body is an error object: the relay's message is for the operator, not users."""

    kind = "api_relay_error"


class ResultUnfetchable(BadResponse):
    """The service answered, but the result link it gave could not be downloaded."""

    kind = "api_result_unfetchable"


# -- painter (issue 15) -------------------------------------------------------------------------
class DrawingRejected(InputError):
    """A drawing from the painter page cannot be used; ``reason`` is a stable code the page shows."""

    kind = "drawing_rejected"


class PainterDenied(EditbotError):
    """The painter page's credentials do not hold; ``reason`` says which check failed (never secrets)."""

    kind = "painter_denied"
