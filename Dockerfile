# editbot: the Telegram and Discord bots in one image.
#   docker build -t editbot .
#   docker run --env-file .env -v editbot-data:/data editbot
# The build stage installs the package into a venv (the README's install command); the runtime
# stage copies only that venv, so no compiler, pip cache or source tree ships.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY adapters ./adapters
COPY bots ./bots
COPY migrations ./migrations
RUN python3 -m venv /opt/editbot && /opt/editbot/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/opt/editbot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EDITBOT_DATABASE_URL=sqlite+aiosqlite:////data/editbot.db \
    EDITBOT_METRICS_PORT=9100 \
    EDITBOT_LOG_FORMAT=json
# A system user without a shell; it owns only the data volume (SQLite lives there by default).
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin editbot \
    && mkdir /data && chown editbot:editbot /data
COPY --from=build /opt/editbot /opt/editbot
USER editbot
WORKDIR /data
VOLUME ["/data"]
# 9100: /metrics, /healthz, /readyz; 8443: the Telegram webhook, when EDITBOT_TELEGRAM_WEBHOOK_URL is set;
# 8080: the painter page, when EDITBOT_WEB_URL is set.
EXPOSE 9100 8443 8080
# Liveness only: a bot that cannot reach Telegram or the database shows in /readyz, not as a restart loop.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ['EDITBOT_METRICS_PORT'], timeout=4)" || exit 1
# SIGTERM stops the bots gracefully: running edits are refunded and their users told.
STOPSIGNAL SIGTERM
ENTRYPOINT ["editbot"]
CMD ["run"]
