"""Wire-level pieces of the fake Bot API: errors, results, parameter decoding, the method registry.

Invariants: an ``ApiError``'s HTTP status equals its ``error_code`` and its description is Telegram's own
wording; parameters arrive as strings (form/multipart) or typed JSON and are decoded per field by the
handler that reads them, never guessed; method names are case-insensitive like the Bot API's.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .telegram_model import JSON, BotAccount, UploadedFile

if TYPE_CHECKING:
    from .telegram_server import FakeTelegram

MB = 1024 * 1024
DOWNLOAD_LIMIT = 20 * MB
PHOTO_UPLOAD_LIMIT = 10 * MB
UPLOAD_LIMIT = 50 * MB
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "login_url",
    "web_app",
    "copy_text",
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status == error_code, plus description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters

    def body(self) -> JSON:
        """The JSON body Telegram sends for this error."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True, slots=True)
class Described:
    """A result Telegram sends together with a ``description`` (setWebhook/deleteWebhook)."""

    result: Any
    description: str


class Params:
    """Request parameters, decoded per field on access; ``snapshot`` is what tests see in BotCall.params."""

    def __init__(self, raw: JSON, files: dict[str, UploadedFile]) -> None:
        self.raw, self.files = raw, files
        self.decoded: JSON = {}

    def text(self, name: str) -> str | None:
        """A string field (JSON numbers/objects are rendered back to text)."""
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            value = (
                json.dumps(value)
                if not isinstance(value, int | float) or isinstance(value, bool)
                else str(value)
            )
        self.decoded[name] = value
        return value

    def integer(self, name: str) -> int | None:
        """An integer field; junk answers 400 like Telegram."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None
        self.decoded[name] = number
        return number

    def number(self, name: str) -> float | None:
        """A numeric field that may be fractional."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        number = float(value)
        self.decoded[name] = number
        return number

    def flag(self, name: str) -> bool:
        """A Boolean field (absent means False)."""
        value = self.raw.get(name)
        result = value is True or (isinstance(value, str) and value.lower() in ("true", "1"))
        if value is not None:
            self.decoded[name] = result
        return result

    def obj(self, name: str) -> Any:
        """A JSON-serialised field (object or array)."""
        value = self.raw.get(name)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
        if value is not None:
            self.decoded[name] = value
        return value

    def chat_id(self, name: str = "chat_id") -> int | str:
        """A required chat_id: an integer or an @username."""
        value = self.raw.get(name)
        if value is None or value == "":
            raise ApiError(400, f"Bad Request: {name} is empty")
        if isinstance(value, str) and value.startswith("@"):
            self.decoded[name] = value
            return value
        number = self.integer(name)
        assert number is not None
        return number

    def snapshot(self) -> JSON:
        """Every parameter: decoded where a handler read it, raw otherwise."""
        return {**self.raw, **self.decoded}


Handler = Callable[["FakeTelegram", BotAccount, Params], Awaitable[Any]]
METHODS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    """Register a handler; Bot API method names are case-insensitive."""

    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = handler
        return handler

    return register
