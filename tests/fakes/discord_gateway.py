"""The fake Discord gateway: one websocket per bot connection, speaking gateway v10 with JSON encoding.

Invariants: a session's sequence numbers are strictly increasing across its connections; every dispatch is
kept for RESUME replay until the session is invalidated; sends on one connection are serialised (the zlib
stream is shared by every frame, so frames must leave in the order they were compressed).
``compress=zlib-stream`` is honoured with one ``compressobj`` per connection flushed with ``Z_SYNC_FLUSH``;
anything else (``zstd-stream``) falls back to plain text frames, which discord.py reads as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

# Gateway opcodes
DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

# Close codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes)
UNKNOWN_OPCODE, DECODE_ERROR, NOT_AUTHENTICATED, AUTHENTICATION_FAILED, ALREADY_AUTHENTICATED = (
    4001,
    4002,
    4003,
    4004,
    4005,
)
INVALID_API_VERSION = 4012


@dataclass(eq=False)
class GatewayConnection:
    """One websocket; sends are serialised and optionally zlib-stream compressed."""

    ws: web.WebSocketResponse
    zlib_stream: bool
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    compressor: Any = None
    session: GatewaySession | None = None

    def __post_init__(self) -> None:
        if self.zlib_stream:
            self.compressor = zlib.compressobj()

    @property
    def live(self) -> bool:
        """Whether frames can still be sent."""
        return not self.ws.closed

    async def send(self, payload: dict[str, Any]) -> None:
        """Send one gateway payload."""
        text = json.dumps(payload, separators=(",", ":"))
        async with self.lock:
            if self.compressor is not None:
                data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(text)


@dataclass(eq=False)
class GatewaySession:
    """An identified bot session; survives its connection for RESUME until invalidated."""

    session_id: str
    intents: int
    number: int
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    connection: GatewayConnection | None = None
    invalidated: bool = False
    identify: dict[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """Whether a connection is attached and open."""
        return not self.invalidated and self.connection is not None and self.connection.live

    @property
    def shard(self) -> tuple[int, int]:
        """``(shard_id, shard_count)`` from IDENTIFY (``(0, 1)`` unsharded)."""
        shard_id, count = self.identify.get("shard") or (0, 1)
        return int(shard_id), int(count)

    def serves(self, guild_id: int | None) -> bool:
        """Whether Discord routes this guild's events (None: DMs, shard 0) to this session."""
        shard_id, count = self.shard
        return shard_id == (0 if guild_id is None else (guild_id >> 22) % count)

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Number and send (or buffer for RESUME) one DISPATCH; returns its sequence number."""
        self.seq += 1
        payload = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.sent.append(payload)
        if self.live:
            assert self.connection is not None
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.connection.send(payload)
        return self.seq


class Gateway:
    """The websocket endpoint and its sessions; owned by :class:`FakeDiscord`."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: list[GatewaySession] = []
        self.connections: list[GatewayConnection] = []
        self.compressions_requested: list[str | None] = []

    def current(self, guild_id: int | None = None) -> GatewaySession | None:
        """The newest live session serving ``guild_id``'s shard (the one its events go to)."""
        for session in reversed(self.sessions):
            if session.live and session.serves(guild_id):
                return session
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one websocket connection until either side closes it."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress")
        self.compressions_requested.append(compress)
        conn = GatewayConnection(ws, zlib_stream=compress == "zlib-stream")
        self.connections.append(conn)
        try:
            if request.query.get("v", "10") != "10":
                await ws.close(code=INVALID_API_VERSION, message=b"Invalid API version.")
                return ws
            if request.query.get("encoding", "json") != "json":
                await ws.close(code=DECODE_ERROR, message=b"Only JSON encoding is supported by the fake.")
                return ws
            await conn.send({"op": HELLO, "d": {"heartbeat_interval": self.fake.heartbeat_interval_ms}})
            while True:
                message = await ws.receive()
                if message.type is WSMsgType.CLOSE:
                    if message.data in (1000, 1001) and conn.session is not None:
                        conn.session.invalidated = True  # a clean close by the client ends the session
                    break
                if message.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                if message.type is not WSMsgType.TEXT:
                    await ws.close(code=DECODE_ERROR, message=b"Error while decoding payload.")
                    break
                try:
                    payload = json.loads(message.data)
                except ValueError:
                    await ws.close(code=DECODE_ERROR, message=b"Error while decoding payload.")
                    break
                await self._on_payload(conn, payload)
        finally:
            if not ws.closed:
                await ws.close()
            self.fake._notify()
        return ws

    async def _on_payload(self, conn: GatewayConnection, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == HEARTBEAT:
            await conn.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(conn, data or {})
        elif op == RESUME:
            await self._resume(conn, data or {})
        elif op == REQUEST_MEMBERS:
            await self._request_members(conn, data or {})
        elif op in (PRESENCE, VOICE_STATE):
            pass
        else:
            await conn.ws.close(code=UNKNOWN_OPCODE, message=b"Unknown opcode.")

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.ws.close(code=ALREADY_AUTHENTICATED, message=b"Already authenticated.")
            return
        if data.get("token") not in (self.fake.token, f"Bot {self.fake.token}"):
            await conn.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            intents=int(data.get("intents", 0)),
            number=len(self.sessions) + 1,
            identify=data,
        )
        session.connection = conn
        conn.session = session
        fake = self.fake
        # A shard gets the guilds with (guild_id >> 22) % shard_count == shard_id (Discord's rule).
        guilds = [guild for guild in fake.guilds.values() if session.serves(guild.id)]
        await session.dispatch(
            "READY",
            {
                "v": 10,
                "user": fake.bot_user.payload() | {"verified": True, "mfa_enabled": False, "email": None},
                "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
                "session_id": session.session_id,
                "resume_gateway_url": fake.gateway_url,
                "shard": data.get("shard", [0, 1]),
                "application": {"id": str(fake.application_id), "flags": fake.application_flags},
                "private_channels": [],
                "relationships": [],
                "user_settings": {},
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "session_type": "normal",
                "auth_session_id_hash": secrets.token_hex(8),
                "_trace": ['["fake-discord",{"micros":0}]'],
            },
        )
        for guild in guilds:
            await session.dispatch("GUILD_CREATE", guild.create_payload())
        self.sessions.append(session)
        fake._notify()

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = next((s for s in self.sessions if s.session_id == data.get("session_id")), None)
        if data.get("token") not in (self.fake.token, f"Bot {self.fake.token}"):
            await conn.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        if session is None or session.invalidated:
            await conn.send({"op": INVALID_SESSION, "d": False})
            return
        old = session.connection
        session.connection = conn
        conn.session = session
        if old is not None and old is not conn and old.live:
            await old.ws.close(code=4009, message=b"Session resumed elsewhere.")
        last = int(data.get("seq") or 0)
        for payload in session.sent:
            if payload["s"] > last:
                await conn.send(payload)
        await session.dispatch("RESUMED", {"_trace": ['["fake-discord",{"micros":0}]']})
        self.fake.resume_count += 1
        self.fake._notify()

    async def _request_members(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        if conn.session is None:
            await conn.ws.close(code=NOT_AUTHENTICATED, message=b"Not authenticated.")
            return
        guild = self.fake.guilds.get(int(data.get("guild_id", 0)))
        members = [] if guild is None else list(guild.members.values())
        wanted = data.get("user_ids")
        if wanted:
            ids = {int(x) for x in (wanted if isinstance(wanted, list) else [wanted])}
            members = [m for m in members if m.user.id in ids]
        query = data.get("query") or ""
        members = [m for m in members if m.user.username.lower().startswith(query.lower())]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(data.get("guild_id")),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await conn.session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def disconnect(self, code: int, *, invalidate: bool) -> int:
        """Close every live connection from the server side; returns how many were closed."""
        closed = 0
        for session in self.sessions:
            if session.live:
                assert session.connection is not None
                if invalidate:
                    session.invalidated = True
                await session.connection.ws.close(code=code, message=b"Closed by the fake.")
                closed += 1
        self.fake._notify()
        return closed

    async def close(self) -> None:
        """Close every connection (server shutdown)."""
        for conn in self.connections:
            if conn.live:
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=1001, message=b"Server shutting down.")
