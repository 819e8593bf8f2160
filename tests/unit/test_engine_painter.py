"""The engine's side of the painter: the "Draw on it" button, drawings as masks, /draw's pending drawing."""

from __future__ import annotations

from core.actions import SendText, ShowDrawing
from core.engine import ConversationEngine, conversation_key
from core.events import (
    DrawingReceived,
    DrawRequested,
    EditSubmitted,
    ImageReceived,
    ReplyHandle,
    TextReceived,
)
from core.i18n import render
from core.identity import Platform
from core.media import PreparedImage
from core.painter import GrantKind, Signer, fingerprint
from core.refs import ImageRef
from core.storage.protocol import ConvState
from tests.unit.engine_world import World

PREVIEW = PreparedImage(b"jpeg", "drawing.jpg", "image/jpeg", 32, 24)


def _painter_engine(w: World, signer: Signer) -> ConversationEngine:
    return ConversationEngine(w.store, w.runner, w.engine.config, painter=signer)


def _drawing(w: World, name: str = "d1") -> DrawingReceived:
    ref = ImageRef(Platform.CONSOLE, f"painter:{name}", mime="image/png")
    w.fetcher.add(ref.file_id, w.image)
    return DrawingReceived(ref, PREVIEW)


async def test_photo_gets_a_draw_button_only_when_the_painter_runs() -> None:
    async with World() as w:
        (plain,) = await w.engine.handle(w.origin(user="u0"), ImageReceived((w.ref("p1"),)))
        assert isinstance(plain, SendText) and plain.buttons == ()
        signer = Signer(b"k")
        (reply,) = await _painter_engine(w, signer).handle(w.origin(), ImageReceived((w.ref("p1"),)))
        assert isinstance(reply, SendText) and reply.text.key == "photo_received_draw"
        (button,) = reply.buttons
        assert button.action == "draw" and button.painter is not None
        grant = signer.read(button.painter, w.now, GrantKind.LINK)
        assert grant.user.user_id == "u1" and grant.chat.chat_id == "c1" and not grant.single_use
        assert grant.photo == fingerprint(w.ref("p1"))
        # Albums get no button: a drawing goes with one photo.
        (album,) = await _painter_engine(w, signer).handle(
            w.origin(), ImageReceived((w.ref("p1"), w.ref("p2")))
        )
        assert isinstance(album, SendText) and album.buttons == ()


async def test_drawing_becomes_the_mask_and_the_prompt_follows() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        engine = _painter_engine(w, Signer(b"k"))
        await engine.handle(w.origin(), ImageReceived((w.ref("p1"),)))
        assert await engine.drawing_target(w.origin()) == w.ref("p1")
        drawing = _drawing(w)
        (preview,) = await engine.handle(w.origin(), drawing)
        assert isinstance(preview, ShowDrawing) and preview.image == PREVIEW
        assert "Now tell me what to change there" in render("en", preview.caption)
        conv = await w.store.get_conversation(conversation_key(w.origin()))
        assert conv is not None and conv.state is ConvState.AWAITING_PROMPT and conv.mask == drawing.drawing
        await engine.handle(w.origin(), TextReceived("a red balloon"))
        await w.runner.wait_idle()
        (job,) = w.store.jobs.values()
        assert job.mask == drawing.drawing and job.images == (w.ref("p1"),)
        assert await engine.drawing_target(w.origin()) is None  # nothing waits any more


async def test_a_drawing_without_a_waiting_photo_is_explained() -> None:
    async with World() as w:
        engine = _painter_engine(w, Signer(b"k"))
        (reply,) = await engine.handle(w.origin(), _drawing(w))
        assert isinstance(reply, SendText) and reply.text.key == "drawing_too_late"
        assert await w.store.get_conversation(conversation_key(w.origin())) is None


async def test_draw_command_keeps_the_drawing_for_the_next_edit_form() -> None:
    async with World() as w:
        w.fetcher.add("p1", w.image)
        signer = Signer(b"k")
        engine = _painter_engine(w, signer)
        handle = ReplyHandle(token="interaction-token", mode="original")
        (reply,) = await engine.handle(w.origin(handle=handle), DrawRequested(w.ref("p1")))
        assert isinstance(reply, SendText) and reply.private and reply.text.key == "draw_open"
        (button,) = reply.buttons
        assert button.painter is not None and signer.read(button.painter, w.now, GrantKind.LINK).single_use
        # The painter's origin has no handle; the answer goes to /draw's own private message.
        (preview,) = await engine.handle(w.origin(), _drawing(w))
        assert isinstance(preview, ShowDrawing) and preview.origin.handle == handle
        await engine.handle(w.origin(), EditSubmitted((w.ref("p1"),), "make it blue"))
        await w.runner.wait_idle()
        (job,) = w.store.jobs.values()
        assert job.mask is not None and job.mask.file_id == "painter:d1"
        # Used once: the next form edits without it.
        await engine.handle(w.origin(), EditSubmitted((w.ref("p1"),), "again"))
        await w.runner.wait_idle()
        assert [j.mask for j in w.store.jobs.values() if j.prompt == "again"] == [None]


async def test_draw_without_painter_says_it_is_off() -> None:
    async with World() as w:
        (reply,) = await w.engine.handle(w.origin(), DrawRequested(w.ref("p1")))
        assert isinstance(reply, SendText) and reply.text.key == "painter_off" and reply.private
