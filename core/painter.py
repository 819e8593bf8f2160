"""The painter: signed grants that open the painter page on one user's photo, and the service behind it.

A *grant* says who may paint (user), where the drawing goes (chat), on which photo (a fingerprint of
its file reference), until when. Grants travel as tokens: ``base64url(JSON) + base64url(HMAC)[:22]``,
all in ``[A-Za-z0-9_-]`` so a token fits a Telegram ``startapp`` parameter (at most 512 such chars).

Two kinds:
- a LINK opens the page. A link that is not single-use (Telegram's button under "Got your photo")
  only works together with a platform-verified user (Telegram's signed ``initData``) that is the
  grant's user. A single-use link (Discord, where no platform signature reaches the page) is spent
  on first use and expires after :data:`LINK_TTL`.
- a SESSION is what the page holds after opening (in memory, sent as a bearer token: no cookies, so
  no CSRF); it fetches the photo and submits one drawing, and expires after :data:`SESSION_TTL`.

The photo is whatever the conversation waits on *now*: a link for an older photo, or for a
conversation that moved on, opens nothing. Drawings are stored by random id and reach the job runner
as ``ImageRef(file_id="painter:<id>")`` through :class:`DrawingFetcher`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from core import errors
from core.actions import Action, Outbox
from core.drawings import Canvas, Drawing, DrawingMode, canvas_photo, check_drawing
from core.events import DrawingReceived, Origin
from core.identity import ChatRef, Community, Platform, UserKey
from core.refs import FileFetcher, ImageRef

if TYPE_CHECKING:  # the engine imports this module for Signer
    from core.engine import ConversationEngine

LINK_TTL = timedelta(minutes=10)
CHAT_LINK_TTL = timedelta(hours=24)  # the conversation's own timeout ends it much sooner
SESSION_TTL = timedelta(minutes=30)
DRAWING_PREFIX = "painter:"
_SIG_CHARS = 22  # 16 bytes of HMAC-SHA256 in base64url
_CANVAS_CACHE = 16
_TOKEN = re.compile(r"[A-Za-z0-9_-]{23,2048}")  # a payload and _SIG_CHARS of signature


class GrantKind(StrEnum):
    """A link that opens the page, or the session the page works with."""

    LINK = "l"
    SESSION = "s"


@dataclass(frozen=True, slots=True)
class Grant:
    """Permission for one user to paint on one photo of one conversation, until ``expires``."""

    kind: GrantKind
    user: UserKey
    chat: ChatRef
    group: bool
    photo: str
    expires: int
    nonce: str
    single_use: bool
    locale: str = "en"

    def origin(self) -> Origin:
        """Where the drawing's replies go (a new message in the chat, answering nothing)."""
        community = Community(self.chat.platform, self.chat.chat_id) if self.group else None
        return Origin(self.user, self.chat, f"painter:{self.nonce}", community, self.locale)


def fingerprint(ref: ImageRef) -> str:
    """A short stable fingerprint of a photo's reference (the reference itself never leaves the bot)."""
    return hashlib.sha256(f"{ref.platform}:{ref.file_id}".encode()).hexdigest()[:16]


def is_drawing(ref: ImageRef | None) -> bool:
    """True for a reference to a drawing made in the painter page."""
    return ref is not None and ref.file_id.startswith(DRAWING_PREFIX)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Mints and reads grant tokens with an HMAC key only the bot's processes share."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"editbot-painter-grant:" + secret).digest()

    def _sig(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:16])

    def mint(self, grant: Grant) -> str:
        """The token for ``grant``."""
        body = {
            "k": str(grant.kind),
            "p": str(grant.user.platform),
            "u": grant.user.user_id,
            "c": grant.chat.chat_id,
            "t": grant.chat.thread_id,
            "g": int(grant.group),
            "f": grant.photo,
            "e": grant.expires,
            "n": grant.nonce,
            "s": int(grant.single_use),
            "l": grant.locale,
        }
        payload = _b64(
            json.dumps({k: v for k, v in body.items() if v is not None}, separators=(",", ":")).encode()
        )
        return payload + self._sig(payload)

    def read(self, token: str, now: datetime, kind: GrantKind) -> Grant:
        """The grant in ``token``; :class:`PainterDenied` when it is forged, of another kind or expired."""
        if not _TOKEN.fullmatch(token):
            raise errors.PainterDenied("not a token", reason="forged")
        payload, sig = token[:-_SIG_CHARS], token[-_SIG_CHARS:]
        if not hmac.compare_digest(self._sig(payload).encode(), sig.encode()):
            raise errors.PainterDenied("bad signature", reason="forged")
        try:
            body = json.loads(_unb64(payload))
            platform = Platform(body["p"])
            grant = Grant(
                GrantKind(body["k"]),
                UserKey(platform, str(body["u"])),
                ChatRef(platform, str(body["c"]), body.get("t")),
                bool(body["g"]),
                str(body["f"]),
                int(body["e"]),
                str(body["n"]),
                bool(body["s"]),
                str(body.get("l") or "en"),
            )
        except (ValueError, KeyError, TypeError) as exc:  # signed by us, so only an old format gets here
            raise errors.PainterDenied("unreadable grant", reason="forged") from exc
        if grant.kind is not kind:
            raise errors.PainterDenied("wrong kind of token", reason="forged")
        if now.timestamp() > grant.expires:
            raise errors.PainterDenied("token expired", reason="expired")
        return grant

    def link(self, origin: Origin, photo: ImageRef, now: datetime, *, single_use: bool) -> str:
        """A token that opens the painter on ``photo`` for ``origin``'s user, replies going to its chat."""
        ttl = LINK_TTL if single_use else CHAT_LINK_TTL
        return self.mint(
            Grant(
                GrantKind.LINK,
                origin.user,
                origin.chat,
                origin.community is not None,
                fingerprint(photo),
                int((now + ttl).timestamp()),
                secrets.token_urlsafe(12),
                single_use,
                origin.locale,
            )
        )


class PainterStore(Protocol):
    """Where drawings and spent single-use nonces live (the database: several processes share it)."""

    async def put_drawing(self, owner: UserKey, data: bytes, now: datetime) -> str:
        """Store a drawing; its new random id."""
        ...

    async def get_drawing(self, drawing_id: str) -> bytes | None:
        """A drawing's bytes, or None."""
        ...

    async def spend(self, nonce: str, expires_at: datetime, now: datetime) -> bool:
        """True the first time ``nonce`` is spent, False after."""
        ...


class DrawingFetcher:
    """A platform's :class:`FileFetcher` that also reads drawings from the painter store."""

    def __init__(self, inner: FileFetcher, store: PainterStore) -> None:
        self._inner = inner
        self._painter_store = store

    async def fetch(self, ref: ImageRef, max_bytes: int) -> bytes:
        """The drawing's bytes for a painter reference; the platform's file otherwise."""
        if not is_drawing(ref):
            return await self._inner.fetch(ref, max_bytes)
        data = await self._painter_store.get_drawing(ref.file_id.removeprefix(DRAWING_PREFIX))
        if data is None:
            raise errors.UnreadableImage("the drawing is gone")
        return data


@dataclass(frozen=True, slots=True)
class PainterSession:
    """What the page gets on opening: its session token, the canvas, whether Sketch mode is offered."""

    token: str
    canvas: Canvas
    sketch: bool
    locale: str


class PainterService:
    """Opens painter sessions, serves their photo, and turns a submitted drawing into the mask."""

    def __init__(
        self,
        engine: ConversationEngine,
        store: PainterStore,
        signer: Signer,
        *,
        max_input_bytes: int,
    ) -> None:
        self._engine = engine
        self.store = store
        self._signer = signer
        self._max_input_bytes = max_input_bytes
        self._outboxes: dict[Platform, Outbox] = {}
        self._fetchers: dict[Platform, FileFetcher] = {}
        self._canvases: OrderedDict[str, Canvas] = OrderedDict()

    def attach(self, platform: Platform, outbox: Outbox, fetcher: FileFetcher) -> None:
        """Register a platform's sender and file fetcher (the same ones the job runner uses)."""
        self._outboxes[platform] = outbox
        self._fetchers[platform] = fetcher

    def _now(self) -> datetime:
        return self._engine.runner.now().astimezone(UTC)

    async def open(self, token: str, verified_user: UserKey | None) -> PainterSession:
        """Exchange a link for a session. ``verified_user`` is who the platform says is asking (Telegram
        initData), or None when nobody vouches for them (then only a single-use link opens)."""
        now = self._now()
        grant = self._signer.read(token, now, GrantKind.LINK)
        if verified_user is not None and verified_user != grant.user:
            raise errors.PainterDenied("another user's link", reason="not_yours")
        if verified_user is None and not grant.single_use:
            raise errors.PainterDenied("reusable link without a platform signature", reason="no_auth")
        expiry = datetime.fromtimestamp(grant.expires, UTC)
        if grant.single_use and not await self.store.spend(grant.nonce, expiry, now):
            raise errors.PainterDenied("link used before", reason="spent")
        canvas = await self._canvas(grant)
        session = replace(
            grant,
            kind=GrantKind.SESSION,
            nonce=secrets.token_urlsafe(12),
            expires=int((now + SESSION_TTL).timestamp()),
            single_use=True,
        )
        sketch = await self._engine.uses_markup(grant.origin())
        return PainterSession(self._signer.mint(session), canvas, sketch, grant.locale)

    async def photo(self, token: str) -> Canvas:
        """The session's photo, as the page paints on it."""
        return await self._canvas(self._signer.read(token, self._now(), GrantKind.SESSION))

    async def submit(self, token: str, data: bytes, mode: DrawingMode) -> Drawing:
        """Check and store the drawing, make it the conversation's mask, and show the user a preview."""
        now = self._now()
        grant = self._signer.read(token, now, GrantKind.SESSION)
        canvas = await self._canvas(grant)
        drawing = await asyncio.to_thread(check_drawing, data, mode, canvas)
        if not await self.store.spend(grant.nonce, datetime.fromtimestamp(grant.expires, UTC), now):
            raise errors.PainterDenied("session used before", reason="spent")
        drawing_id = await self.store.put_drawing(grant.user, drawing.png, now)
        ref = ImageRef(
            grant.user.platform,
            DRAWING_PREFIX + drawing_id,
            filename="drawing.png",
            size=len(drawing.png),
            mime="image/png",
            width=drawing.width,
            height=drawing.height,
        )
        origin = grant.origin()
        event = DrawingReceived(ref, drawing.preview, sketch=mode is DrawingMode.SKETCH)
        await self._send(await self._engine.handle(origin, event))
        return drawing

    async def _send(self, actions: Sequence[Action]) -> None:
        for action in actions:
            outbox = self._outboxes.get(action.origin.user.platform)
            if outbox is not None:
                await outbox.send(action)

    async def _canvas(self, grant: Grant) -> Canvas:
        """The canvas of the photo the grant's conversation waits on, if it is still the granted one."""
        photo = await self._engine.drawing_target(grant.origin())
        if photo is None:
            raise errors.PainterDenied("no photo waiting", reason="photo_gone")
        key = fingerprint(photo)
        if not hmac.compare_digest(key, grant.photo):
            raise errors.PainterDenied("another photo is waiting", reason="photo_changed")
        cached = self._canvases.get(key)
        if cached is not None:
            self._canvases.move_to_end(key)
            return cached
        fetcher = self._fetchers.get(photo.platform)
        if fetcher is None:
            raise errors.PainterDenied("platform not running", reason="photo_gone")
        data = await fetcher.fetch(photo, self._max_input_bytes)
        canvas = await asyncio.to_thread(canvas_photo, data)
        self._canvases[key] = canvas
        while len(self._canvases) > _CANVAS_CACHE:
            self._canvases.popitem(last=False)
        return canvas
