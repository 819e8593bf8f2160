"""The bot's one web server: the painter (EDITBOT_WEB_*) and the metrics endpoints (EDITBOT_METRICS_PORT).

When both are on and use the same port, one aiohttp app serves both route sets; otherwise each has
its own listener. Telegram's webhook cannot join them: PTB serves it from its own tornado server
inside ``Updater.start_webhook`` and takes no extra routes (see :mod:`bots.metrics`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from aiohttp import web

from adapters.web.painter_app import add_painter, painter_app
from bots.bootstrap import Core
from bots.metrics import make_app, serving
from bots.settings import Settings
from core.drawings import MAX_DRAWING_BYTES
from core.errors import ConfigError

log = logging.getLogger(__name__)


def check_web_port(settings: Settings) -> None:
    """The painter cannot share the Telegram webhook's port (PTB's own server holds it)."""
    if settings.web_url and settings.webhook_holds(settings.web_port):
        raise ConfigError(
            "EDITBOT_WEB_PORT and EDITBOT_TELEGRAM_WEBHOOK_PORT are the same port: "
            "the painter needs a port of its own (or the metrics port)"
        )


@asynccontextmanager
async def _site(app: web.Application, host: str, port: int, what: str) -> AsyncIterator[int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = int(runner.addresses[0][1])
        log.info("%s on %s:%s", what, host, bound)
        yield bound
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serving_web(core: Core, settings: Settings) -> AsyncIterator[dict[str, int]]:
    """Serve what is configured until the context exits; yields the bound ports by name."""
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else None
    ports: dict[str, int] = {}
    async with AsyncExitStack() as stack:
        painter = core.painter if settings.web_url else None
        shared = painter is not None and settings.metrics_port == settings.web_port
        if shared and painter is not None:
            app = make_app(core.metrics, core.health, client_max_size=MAX_DRAWING_BYTES + 65536)
            add_painter(app, painter, token)
            what = "painter, metrics and health endpoints"
            port = await stack.enter_async_context(_site(app, settings.web_listen, settings.web_port, what))
            ports.update(painter=port, metrics=port)
        else:
            if settings.metrics_port is not None:
                ports["metrics"] = await stack.enter_async_context(
                    serving(core.metrics, core.health, settings.metrics_listen, settings.metrics_port)
                )
            if painter is not None:
                app = painter_app(painter, token)
                ports["painter"] = await stack.enter_async_context(
                    _site(app, settings.web_listen, settings.web_port, "painter")
                )
        yield ports
