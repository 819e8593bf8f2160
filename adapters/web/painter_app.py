"""The painter's HTTP routes (aiohttp): the page and its files, then three API calls.

- ``GET /painter/`` the page; ``GET /painter/static/<file>`` its script and style (no CDN);
- ``POST /painter/api/session`` ``{"link": token, "initData": str|null}`` -> a session token, the
  canvas size, whether Sketch mode is offered, the page's texts in the user's language;
- ``GET /painter/api/photo`` the photo to paint on (``Authorization: Bearer <session>``);
- ``POST /painter/api/drawing?mode=area|sketch`` the PNG (same header) -> the drawing becomes the mask.

No cookies anywhere: every call carries its signed token, so another site cannot make a browser
act for its user (CSRF). The photo is served only for a valid session of its owner; nothing is
reachable by an id. Errors answer JSON ``{"error": reason, "message": text}`` in the user's language.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from adapters.web.auth import RateLimiter, verify_init_data
from core import errors, i18n
from core.clock import utcnow as _now
from core.drawings import MAX_DRAWING_BYTES, DrawingMode
from core.identity import Platform, UserKey
from core.painter import PainterService

log = logging.getLogger(__name__)

STATIC_FILES = {
    "painter.js": "text/javascript",
    "painter.css": "text/css",
}
PAGE_TEXTS = (
    "painter_title",
    "painter_mode_area",
    "painter_mode_sketch",
    "painter_hint_area",
    "painter_hint_sketch",
    "painter_brush",
    "painter_eraser",
    "painter_size",
    "painter_undo",
    "painter_redo",
    "painter_clear",
    "painter_invert",
    "painter_done",
    "painter_sending",
    "painter_sent",
)
# Telegram's web clients show Mini Apps in a frame; nobody else may frame the page.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org"
)
_STATUS = {
    "too_large": 413,
    "rate_limited": 429,
    "forged": 403,
    "not_yours": 403,
    "no_auth": 401,
    "expired": 401,
    "spent": 409,
    "photo_gone": 410,
    "photo_changed": 410,
}

PAINTER = web.AppKey("painter", PainterService)
TELEGRAM_TOKEN = web.AppKey("telegram_token", str)
LIMITER = web.AppKey("limiter", RateLimiter)


def _static(name: str) -> bytes:
    return resources.files("adapters.web").joinpath("static", name).read_bytes()


def _failure(exc: errors.EditbotError, locale: str) -> web.Response:
    kind, details = i18n.explain(exc)
    reason = str(exc.details.get("reason", "forged"))
    status = _STATUS.get(reason, 400)
    message = i18n.render(locale, kind, **details)
    return web.json_response({"error": reason, "message": message}, status=status)


def _limited(request: web.Request, key: str) -> None:
    if not request.app[LIMITER].allow(key):
        raise errors.PainterDenied("rate limited", reason="rate_limited")


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise errors.PainterDenied("no session token", reason="no_auth")
    return token.strip()


def _who(token: str) -> str:
    # The limiter's key: the token's tail (its signature) is per session, so one page cannot flood.
    return "s:" + token[-22:]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guarded(handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        locale = i18n.pick_locale(request.headers.get("Accept-Language", "en").split(",")[0])
        try:
            return await handler(request)
        except errors.EditbotError as exc:
            log.info("painter refused %s: %s", request.path, exc.details.get("reason", exc.kind))
            return _failure(exc, locale)

    return run


async def page(_: web.Request) -> web.Response:
    """The painter page (its texts arrive with the session, in the user's language)."""
    headers = {"Content-Security-Policy": _CSP, "Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"}
    return web.Response(
        body=_static("index.html"), content_type="text/html", charset="utf-8", headers=headers
    )


async def _to_page(_: web.Request) -> web.Response:
    raise web.HTTPFound("/painter/")


async def static(request: web.Request) -> web.Response:
    """The page's script and style; nothing else on disk is reachable."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.Response(
        body=_static(name), content_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"}
    )


async def open_session(request: web.Request) -> web.Response:
    """A link (and Telegram's initData) -> a session for the page."""
    try:
        body: Any = await request.json()
        link, init_data = str(body.get("link") or ""), body.get("initData")
    except (ValueError, AttributeError) as exc:
        raise errors.PainterDenied("bad request body", reason="forged") from exc
    verified: UserKey | None = None
    language: str | None = None
    if init_data:
        token = request.app.get(TELEGRAM_TOKEN)
        if token is None:
            raise errors.PainterDenied("no Telegram bot here", reason="forged")
        user = verify_init_data(str(init_data), token, _now())
        verified, language = UserKey(Platform.TELEGRAM, user.user_id), user.language_code
        link = link or (user.start_param or "")  # a group's t.me link carries it as startapp
    _limited(request, f"u:{verified}" if verified else f"a:{request.remote}")
    if not link:
        raise errors.PainterDenied("no link", reason="no_auth")
    session = await request.app[PAINTER].open(link, verified)
    locale = i18n.pick_locale(language) if language else session.locale
    width, height = session.canvas.size
    return web.json_response(
        {
            "session": session.token,
            "width": width,
            "height": height,
            "sketch": session.sketch,
            "maxBytes": MAX_DRAWING_BYTES,
            "texts": {key: i18n.render(locale, key) for key in PAGE_TEXTS},
        },
        headers={"Cache-Control": "no-store"},
    )


async def photo(request: web.Request) -> web.Response:
    """The session's photo as the page paints on it."""
    token = _bearer(request)
    _limited(request, _who(token))
    canvas = await request.app[PAINTER].photo(token)
    return web.Response(
        body=canvas.photo.data,
        content_type=canvas.photo.content_type,
        headers={"Cache-Control": "private, no-store"},
    )


async def drawing(request: web.Request) -> web.Response:
    """The finished drawing: checked, stored, and made the conversation's mask."""
    token = _bearer(request)
    _limited(request, _who(token))
    try:
        mode = DrawingMode(request.query.get("mode", "area"))
    except ValueError as exc:
        raise errors.DrawingRejected("unknown mode", reason="not_png") from exc
    if request.content_length is not None and request.content_length > MAX_DRAWING_BYTES:
        raise errors.DrawingRejected("declared too large", reason="too_large")
    data = await request.read()  # the app's client_max_size stops larger bodies with a 413
    if len(data) > MAX_DRAWING_BYTES:
        raise errors.DrawingRejected("too large", reason="too_large")
    result = await request.app[PAINTER].submit(token, data, mode)
    return web.json_response({"ok": True, "painted": result.painted})


def add_painter(app: web.Application, painter: PainterService, telegram_token: str | None) -> None:
    """Add the painter's routes to ``app`` (its own, or the metrics server's)."""
    app[PAINTER] = painter
    app[LIMITER] = RateLimiter()
    if telegram_token is not None:
        app[TELEGRAM_TOKEN] = telegram_token
    app.router.add_get("/painter", _to_page)
    app.router.add_get("/painter/", page)
    app.router.add_get("/painter/static/{name}", static)
    app.router.add_post("/painter/api/session", _guarded(open_session))
    app.router.add_get("/painter/api/photo", _guarded(photo))
    app.router.add_post("/painter/api/drawing", _guarded(drawing))


def painter_app(painter: PainterService, telegram_token: str | None) -> web.Application:
    """An app serving only the painter (drawings are larger than aiohttp's default 1 MB body)."""
    app = web.Application(client_max_size=MAX_DRAWING_BYTES + 65536)
    add_painter(app, painter, telegram_token)
    return app
