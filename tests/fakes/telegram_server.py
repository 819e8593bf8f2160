"""A fake Telegram Bot API server on 127.0.0.1 that real python-telegram-bot code can talk to.

Usage (the ``fake_telegram`` fixture starts one per test)::

    app = (ApplicationBuilder().token(fake_telegram.token)
           .base_url(fake_telegram.api_url).base_file_url(fake_telegram.file_url).build())
    app.add_handler(...)
    alice = fake_telegram.user(1001, "Alice")
    dm = fake_telegram.private_chat(alice)
    async with ptb_polling(app):
        sent = fake_telegram.send_photo(dm, alice, png_bytes, caption="make it blue")
        result = await fake_telegram.wait_for_message(dm, lambda m: m.photo, after=sent)
        press = fake_telegram.press_button(dm, alice, result, "again")
        await fake_telegram.wait_for(lambda: press.answered)
    assert result.image().size == (1024, 1024) and result.button_texts == ["Edit again"]

Invariants: the wire protocol is Telegram's (``/bot<token>/<method>`` with JSON, urlencoded or
multipart bodies; ``{"ok": ...}`` answers whose HTTP status equals ``error_code``; files under
``/file/bot<token>/<file_path>``); getUpdates is a real long poll that answers as soon as an update is
queued and confirms updates only through ``offset``; with a webhook set, updates are POSTed one at a
time, in order, retried until the bot answers 2xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import mimetypes
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web

from .telegram_methods import METHODS
from .telegram_model import (
    JSON,
    BotAccount,
    BotCall,
    Button,
    CallbackQueryHandle,
    ChatMessage,
    FakeChat,
    FakeUser,
    UploadedFile,
)
from .telegram_people import TelegramPeople
from .telegram_wire import UPLOAD_LIMIT, ApiError, Described, Params

if TYPE_CHECKING:
    from telegram.ext import Application

__all__ = [
    "BotAccount",
    "BotCall",
    "Button",
    "CallbackQueryHandle",
    "ChatMessage",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "UploadedFile",
    "WebhookDelivery",
    "fake_telegram",
    "ptb_polling",
    "ptb_webhook",
]

TOKEN_FORMAT = re.compile(r"\d+:[A-Za-z0-9_-]{35}")
TERMINATED = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One POST of an update to the bot's webhook: HTTP status, or the connection error."""

    update_id: int
    url: str
    status: int | None
    error: str | None


class _Poll:
    """A getUpdates request in progress (a newer one terminates it with 409)."""

    terminated = False


@dataclass
class Hold:
    """A Bot API call held before the fake acts on it, until the test releases it (crash drills).

    ``reached`` is set when the first matching call arrives; while held, nothing of the call has
    happened (no message stored), as if its upload were still in flight.
    """

    method: str
    match: Callable[[Params], bool]
    reached: asyncio.Event
    gate: asyncio.Event
    used: bool = False

    def release(self) -> None:
        """Let the held call (and later matching ones) through."""
        self.gate.set()


class FakeTelegram(TelegramPeople):
    """The fake Bot API server plus the simulated world behind it (``TelegramPeople``, ``TelegramState``)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, webhook_retry_delay: float = 0.05) -> None:
        super().__init__(clock=clock)
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._polls: dict[str, _Poll] = {}
        self._webhook_tasks: dict[str, asyncio.Task[None]] = {}
        self._all_tasks: set[asyncio.Task[None]] = set()  # replaced deliverers too, awaited on close
        self._closing = False
        self.holds: list[Hold] = []

    def hold(self, method: str, match: Callable[[Params], bool] = lambda p: True) -> Hold:
        """Hold the next call of ``method`` (matching ``match``) until :meth:`Hold.release`."""
        hold = Hold(method.lower(), match, asyncio.Event(), asyncio.Event())
        self.holds.append(hold)
        return hold

    async def _held(self, name: str, params: Params) -> None:
        for hold in self.holds:
            if not hold.used and hold.method == name.lower() and hold.match(params):
                hold.used = True
                hold.reached.set()
                self.changed.fire()
                await hold.gate.wait()
                return

    # ----------------------------------------------------------------- addresses

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self.port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """Value for PTB's ``base_url`` (the token is appended by PTB)."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """Value for PTB's ``base_file_url``."""
        return f"{self.base_url}/file/bot"

    @property
    def token(self) -> str:
        """The default bot's token."""
        return self.bot.token

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> FakeTelegram:
        """Listen on a random loopback port."""
        app = web.Application(client_max_size=UPLOAD_LIMIT + 8 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()
        return self

    async def close(self) -> None:
        """Answer pending long polls, stop webhook delivery, close sockets."""
        self._closing = True
        for signal in self.update_signals.values():
            signal.fire()
        tasks = list(self._all_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ----------------------------------------------------------------- HTTP

    @staticmethod
    def _answer(body: JSON, status: int = 200) -> web.Response:
        return web.json_response(body, status=status)

    async def _read_params(self, request: web.Request) -> Params:
        raw: JSON = dict(request.query)
        files: dict[str, UploadedFile] = {}
        content_type = request.content_type
        if request.body_exists and content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON object") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            raw.update(body)
        elif request.body_exists and content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    data = bytes(await part.read(decode=False))
                    part_type = part.headers.get(aiohttp.hdrs.CONTENT_TYPE, "application/octet-stream")
                    files[part.name] = UploadedFile(part.name, part.filename, part_type, data)
                else:
                    raw[part.name] = await part.text()
        elif request.body_exists:
            raw.update(await request.post())
        return Params(raw, files)

    async def _handle_api(self, request: web.Request) -> web.Response:
        token, name = request.match_info["token"], request.match_info["method"]
        bot = self.bots.get(token)
        if bot is None:
            error = (
                ApiError(401, "Unauthorized") if TOKEN_FORMAT.fullmatch(token) else ApiError(404, "Not Found")
            )
            return self._answer(error.body(), error.code)
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            return self._answer(exc.body(), exc.code)
        await self._held(name, params)
        call = BotCall(name, token, params.snapshot(), params.files)
        if name.lower() != "getupdates":  # polling is transport, not something the bot "did"
            self.bot_calls.append(call)
        try:
            result = await self._dispatch(bot, name, params)
        except ApiError as exc:
            call.status, call.error = exc.code, exc.description
            response = self._answer(exc.body(), exc.code)
        else:
            body: JSON = {"ok": True, "result": result}
            if isinstance(result, Described):
                body = {"ok": True, "result": result.result, "description": result.description}
            call.result = body["result"]
            response = self._answer(body)
        call.params = params.snapshot()  # now with the types the handler decoded
        self.changed.fire()
        return response

    async def _dispatch(self, bot: BotAccount, name: str, params: Params) -> Any:
        handler = METHODS.get(name.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        chat_id = params.raw.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)  # type: ignore[arg-type]
        retry_after = self.flood.check(name, chat_id)
        if retry_after is not None:
            shown = int(retry_after) if float(retry_after).is_integer() else retry_after
            raise ApiError(429, f"Too Many Requests: retry after {shown}", {"retry_after": shown})
        return await handler(self, bot, params)

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self.files.by_path(request.match_info["path"])
        if request.match_info["token"] not in self.bots or stored is None:
            return self._answer(ApiError(404, "Not Found").body(), 404)
        content_type = mimetypes.guess_type(stored.file_path)[0] or "application/octet-stream"
        return web.Response(body=stored.data, content_type=content_type)

    # ----------------------------------------------------------------- long polling

    def is_polling(self, bot: BotAccount | None = None) -> bool:
        """True while a getUpdates request of ``bot`` is waiting for updates."""
        return (bot or self.bot).token in self._polls

    async def long_poll(self, bot: BotAccount, limit: int, wait_seconds: float) -> list[JSON]:
        """Answer getUpdates now if updates are queued, else on the next one or after ``wait_seconds``."""
        previous = self._polls.get(bot.token)
        poll = self._polls[bot.token] = _Poll()
        signal = self.update_signals[bot.token]
        if previous is not None:
            previous.terminated = True
            signal.fire()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        try:
            while True:
                if poll.terminated:
                    raise ApiError(409, TERMINATED)
                if bot.webhook is not None:
                    raise ApiError(409, "Conflict: terminated by setWebhook request")
                if bot.pending or self._closing:
                    return copy.deepcopy(bot.pending[:limit])
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                await signal.wait(remaining)
        finally:
            if self._polls.get(bot.token) is poll:
                del self._polls[bot.token]

    # ----------------------------------------------------------------- webhooks

    def webhook_changed(self, bot: BotAccount) -> None:
        """(Re)start or stop delivery after setWebhook/deleteWebhook."""
        task = self._webhook_tasks.pop(bot.token, None)
        if task is not None:
            task.cancel()
        self.update_signals[bot.token].fire()
        if bot.webhook is not None and not self._closing:
            task = asyncio.create_task(self._deliver(bot), name=f"webhook:{bot.username}")
            self._webhook_tasks[bot.token] = task
            self._all_tasks.add(task)
            task.add_done_callback(self._all_tasks.discard)

    async def _deliver(self, bot: BotAccount) -> None:
        hook, signal, delay = bot.webhook, self.update_signals[bot.token], self.webhook_retry_delay
        assert hook is not None and self._session is not None
        while bot.webhook is hook and not self._closing:
            if not bot.pending:
                await signal.wait(None)
                continue
            update = bot.pending[0]
            headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
            status: int | None = None
            try:
                async with self._session.post(
                    hook.url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
                ) as response:
                    await response.read()
                    status = response.status
                    error = (
                        None
                        if 200 <= status < 300
                        else f"Wrong response from the webhook: {status} {response.reason}"
                    )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                error = f"Connection failed: {exc.__class__.__name__}"
            self.webhook_deliveries.append(WebhookDelivery(update["update_id"], hook.url, status, error))
            if error is None:
                if bot.pending and bot.pending[0] is update:
                    bot.pending.pop(0)
                delay = self.webhook_retry_delay
            else:
                hook.last_error_date, hook.last_error_message = int(self.clock()), error
            self.changed.fire()
            if error is not None:
                await asyncio.sleep(delay)  # Telegram's own retry back-off, not a test waiting
                delay = min(delay * 2, 1.0)

    async def forge_webhook_post(
        self, *, secret_token: str | None, update: JSON | None = None, bot: BotAccount | None = None
    ) -> int:
        """POST an update to the bot's webhook as an impostor would (any secret); returns the HTTP status."""
        bot = bot or self.bot
        if bot.webhook is None or self._session is None:
            raise RuntimeError("no webhook is set")
        intruder = {"id": 666, "is_bot": False, "first_name": "Mallory"}
        update = update or {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": int(self.clock()),
                "chat": {"id": 666, "type": "private", "first_name": "Mallory"},
                "from": intruder,
                "text": "/start",
            },
        }
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token is not None else {}
        async with self._session.post(bot.webhook.url, json=update, headers=headers) as response:
            await response.read()
            return response.status


# --------------------------------------------------------------------------- pytest and PTB helpers


@pytest.fixture
async def fake_telegram(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    """A started FakeTelegram for one test.

    Sets PTB_TIMEDELTA=true: PTB 22 otherwise emits a PTBDeprecationWarning from inside
    ``RetryAfter.__init__`` (and other duration attributes), which warnings-as-errors turns into a crash
    exactly when the fake answers 429; opting in to the future timedelta behaviour is the documented fix.
    """
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeTelegram() as fake:
        yield fake


@contextlib.asynccontextmanager
async def _running(
    app: Application[Any, Any, Any, Any, Any, Any],
    start_updater: Callable[[], Awaitable[object]],
    raise_handler_errors: bool,
) -> AsyncIterator[None]:
    """Start app and updater in this loop; on exit stop both and surface exceptions handlers raised."""
    errors: list[BaseException] = []

    async def collect(update: object, context: Any) -> None:
        errors.append(context.error)

    if raise_handler_errors:
        app.add_error_handler(collect)
    async with app:
        await app.start()
        await start_updater()
        try:
            yield
        finally:
            assert app.updater is not None
            await app.updater.stop()
            await app.stop()
            if raise_handler_errors:
                app.remove_error_handler(collect)
    if errors:
        # PTB only logs handler exceptions; a test would otherwise just time out waiting for a reply
        raise AssertionError(f"{len(errors)} exception(s) escaped PTB handlers") from errors[0]


@contextlib.asynccontextmanager
async def ptb_polling(
    app: Application[Any, Any, Any, Any, Any, Any], *, raise_handler_errors: bool = True, **start_polling: Any
) -> AsyncIterator[None]:
    """Run a PTB Application with long polling inside the current event loop, and stop it cleanly.

    Exceptions that escape the app's handlers fail the test on exit (``raise_handler_errors=False`` when a
    test provokes them on purpose).
    """
    assert app.updater is not None
    updater = app.updater
    async with _running(app, lambda: updater.start_polling(**start_polling), raise_handler_errors):
        yield


@contextlib.asynccontextmanager
async def ptb_webhook(
    app: Application[Any, Any, Any, Any, Any, Any],
    *,
    port: int,
    url_path: str = "telegram",
    secret_token: str | None = None,
    raise_handler_errors: bool = True,
    **start_webhook: Any,
) -> AsyncIterator[str]:
    """Run a PTB Application in webhook mode on 127.0.0.1:``port``; yields the webhook URL it registered."""
    url = f"http://127.0.0.1:{port}/{url_path}"
    assert app.updater is not None
    updater = app.updater

    def start() -> Awaitable[object]:
        return updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path=url_path,
            webhook_url=url,
            secret_token=secret_token,
            **start_webhook,
        )

    async with _running(app, start, raise_handler_errors):
        yield url
