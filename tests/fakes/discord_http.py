"""HTTP plumbing of the fake Discord: error bodies, request bodies, recording, faults and rate-limit headers.

Invariants: JSON responses are typed exactly ``application/json`` (discord.py parses nothing else, not even
with a ``charset``); errors use Discord's shape ``{"message", "code"}`` plus ``errors`` for form errors, so
discord.py raises the exception types it raises in production; every response under ``/api`` carries
``X-RateLimit-*`` headers that never run out, so discord.py never waits unless a test injects a 429.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

API = "/api/v10"
MAX_FILES = 10
_FILE_FIELD = re.compile(r"^files?\[?(\d*)\]?$")

UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
ALREADY_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
INVALID_WEBHOOK_TOKEN = (401, 50027, "Invalid Webhook Token")
UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
UNKNOWN_USER = (404, 10013, "Unknown User")
MISSING_ACCESS = (403, 50001, "Missing Access")
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")
CANNOT_DM = (403, 50007, "Cannot send messages to this user")
EMPTY_MESSAGE = (400, 50006, "Cannot send an empty message")
TOO_LARGE = (413, 40005, "Request entity too large")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response as Discord sends it."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return web.Response(
        body=data, status=status, headers={**(headers or {}), "Content-Type": "application/json"}
    )


class DiscordError(Exception):
    """An API error, rendered as Discord's JSON error body."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self) -> web.Response:
        """The HTTP response for this error."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return json_response(body, status=self.status)


def form_error(field_name: str, code: str, message: str) -> DiscordError:
    """A 400 Invalid Form Body error about one field."""
    errors = {field_name: {"_errors": [{"code": code, "message": message}]}}
    return DiscordError(400, 50035, "Invalid Form Body", errors)


def to_int(value: Any) -> int:
    """A snowflake or number from a path or body; 400 when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise form_error("_root", "NUMBER_TYPE_COERCE", f"Value {value!r} is not snowflake.") from None


@dataclass
class Upload:
    """One uploaded file part (``files[n]``)."""

    index: int
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One request the fake served: what came in (path without ``/api/v10``), and what it answered."""

    method: str
    path: str
    query: dict[str, str]
    json: Any = None
    files: list[Upload] = field(default_factory=list)
    status: int = 0
    response: Any = None

    def __str__(self) -> str:
        error = ""
        if isinstance(self.response, dict) and "code" in self.response and self.status >= 400:
            error = f" {self.response.get('code')} {self.response.get('message')}"
        return f"{self.method} {self.path} -> {self.status}{error}"


RECORD = web.RequestKey("fake_discord_record", RecordedRequest)


@dataclass
class Fault:
    """A canned answer for the next ``times`` requests matching ``method`` and the ``path`` glob."""

    method: str
    path: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


async def read_body(request: web.Request, size_limit: int) -> tuple[Any, list[Upload]]:
    """The JSON body, or multipart ``payload_json`` plus ``files[n]``; enforces the size and count limits."""
    uploads: list[Upload] = []
    payload: Any = {}
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader), "nested multipart is not something Discord accepts"
            name = part.name or ""
            if name == "payload_json":
                payload = json.loads(await part.text())
                continue
            match = _FILE_FIELD.match(name)
            if match is None:
                continue
            index = int(match.group(1) or len(uploads))
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            data = bytes(await part.read())
            uploads.append(Upload(index, part.filename or f"file{index}", content_type, data))
    elif request.can_read_body:
        text = await request.text()
        if text:
            try:
                payload = json.loads(text)
            except ValueError as exc:
                raise DiscordError(400, 50109, "The request body contains invalid JSON.") from exc
    record = request[RECORD]
    record.json, record.files = payload, uploads
    if len(uploads) > MAX_FILES:
        raise form_error("files", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
    if any(len(upload.data) > size_limit for upload in uploads):
        raise DiscordError(*TOO_LARGE)
    return payload, uploads


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_middleware(fake: FakeDiscord) -> Any:
    """The middleware that records, authenticates, injects faults, maps errors and adds rate-limit headers."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        is_api = request.path.startswith(API + "/")
        path = request.path.removeprefix(API) if is_api else request.path
        record = RecordedRequest(request.method, path, dict(request.query))
        request[RECORD] = record
        fault = _take_fault(fake.faults, request.method, path) if is_api else None
        try:
            if fault is not None:
                response: web.StreamResponse = json_response(fault.body, fault.status, fault.headers)
            else:
                webhook = path.startswith(("/webhooks/", "/interactions/"))
                if is_api and not webhook and request.headers.get("Authorization") != f"Bot {fake.token}":
                    raise DiscordError(401, 0, "401: Unauthorized")
                response = await handler(request)
        except DiscordError as error:
            response = error.response()
        except web.HTTPMethodNotAllowed:
            response = DiscordError(405, 0, "405: Method Not Allowed").response()
        except (
            Exception
        ) as exc:  # a bug in the fake: fail the test, and answer 400 so discord.py does not retry
            fake.internal_errors.append(exc)
            response = DiscordError(400, 0, f"fake Discord failed: {exc!r}").response()
        if is_api:
            _ratelimit_headers(request, response)
        record.status = response.status
        body = response.body if isinstance(response, web.Response) else None
        if isinstance(body, bytes) and body and response.content_type == "application/json":
            record.response = json.loads(body)
        if path != "/gateway":  # the websocket's lifetime is not a request
            fake.requests.append(record)
            fake._notify()
        return response

    return middleware


def _take_fault(faults: list[Fault], method: str, path: str) -> Fault | None:
    for fault in faults:
        if fault.times > 0 and fault.method in (method, "*") and fnmatch.fnmatchcase(path, fault.path):
            fault.times -= 1
            return fault
    return None


def _ratelimit_headers(request: web.Request, response: web.StreamResponse) -> None:
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else request.path
    bucket = hashlib.sha1(f"{request.method} {canonical}".encode()).hexdigest()[:16]
    response.headers.setdefault("X-RateLimit-Limit", "50")
    response.headers.setdefault("X-RateLimit-Remaining", "49")
    response.headers.setdefault("X-RateLimit-Reset", f"{time.time() + 1:.3f}")
    response.headers.setdefault("X-RateLimit-Reset-After", "1.000")
    response.headers.setdefault("X-RateLimit-Bucket", bucket)
