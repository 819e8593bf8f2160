"""The conversation state machine, exhaustively: every state x every event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core.actions import SendError, SendText
from core.engine import ConversationEngine, conversation_key
from core.events import ButtonPressed, Command, EditOptions, EditSubmitted, ImageReceived, TextReceived
from core.storage.protocol import Conversation, ConvState, Job, JobStatus
from tests.unit.engine_world import World

S = ConvState
JOB = "job"  # marker: the event starts an edit

EVENTS = {
    "photo": lambda w: ImageReceived((w.ref("p2"),)),
    "photo_caption": lambda w: ImageReceived((w.ref("p2"),), "make it blue"),
    "album": lambda w: ImageReceived((w.ref("p2"), w.ref("p3"))),
    "text": lambda w: TextReceived("make it blue"),
    "cancel": lambda w: Command("cancel"),
    "skip": lambda w: Command("skip"),
    "help": lambda w: Command("help"),
    "usage": lambda w: Command("usage"),
    "edit_args": lambda w: Command("edit", "make it blue"),
    "edit_noargs": lambda w: Command("edit"),
    "unknown": lambda w: Command("frobnicate"),
    "submitted": lambda w: EditSubmitted((w.ref("p2"),), "make it blue"),
    "edit_again": lambda w: ButtonPressed("edit_again", "old"),
    "retry": lambda w: ButtonPressed("retry", "old"),
    "retry_confirm": lambda w: ButtonPressed("retry_confirm", "old"),
    "full_size": lambda w: ButtonPressed("full_size", "old"),
}

# (state, event) -> (next state, reply keys or JOB). Rows the table leaves out keep the state.
COMMON = {
    "photo_caption": (S.IDLE, JOB),
    "submitted": (S.IDLE, JOB),
    "help": (None, ["help"]),
    "usage": (None, ["usage"]),
    "unknown": (None, ["unknown_command"]),
    "edit_noargs": (None, ["edit_needs_photo"]),
    "edit_again": (S.AWAITING_PROMPT, ["edit_again_prompt"]),
    "retry": (S.CONFIRM_RETRY, ["retry_confirm"]),
    "retry_confirm": (S.IDLE, JOB),
    "full_size": (None, ["full_size_gone"]),  # nothing kept for "old": a word, and no state change
    "album": (S.AWAITING_MASK_OR_PROMPT, ["photos_received"]),
    "cancel": (S.IDLE, ["cancelled"]),
}
TABLE = {
    S.IDLE: {
        **COMMON,
        "photo": (S.AWAITING_MASK_OR_PROMPT, ["photo_received"]),
        "text": (S.IDLE, ["send_photo_first"]),
        "cancel": (S.IDLE, ["nothing_to_cancel"]),
        "skip": (S.IDLE, ["nothing_to_skip"]),
        "edit_args": (S.IDLE, ["edit_needs_photo"]),
    },
    S.AWAITING_MASK_OR_PROMPT: {
        **COMMON,
        "photo": (S.AWAITING_PROMPT, ["mask_received"]),
        "text": (S.IDLE, JOB),
        "skip": (S.AWAITING_PROMPT, ["skip_ok"]),
        "edit_args": (S.IDLE, JOB),
    },
    S.AWAITING_PROMPT: {
        **COMMON,
        "photo": (S.AWAITING_PROMPT, ["mask_replaced"]),
        "text": (S.IDLE, JOB),
        "skip": (S.AWAITING_PROMPT, ["nothing_to_skip"]),
        "edit_args": (S.IDLE, JOB),
    },
    S.CONFIRM_RETRY: {
        **COMMON,
        "photo": (S.AWAITING_MASK_OR_PROMPT, ["photo_received"]),
        "text": (S.IDLE, ["send_photo_first"]),
        "skip": (S.CONFIRM_RETRY, ["nothing_to_skip"]),
        "edit_args": (S.CONFIRM_RETRY, ["edit_needs_photo"]),
    },
}


def _seed_state(w: World, state: ConvState) -> None:
    key = conversation_key(w.origin())
    if state is S.IDLE:
        return
    images = (w.ref("p1"),)
    mask = w.ref("m1") if state is S.AWAITING_PROMPT else None
    data = {"job_id": "old"} if state is S.CONFIRM_RETRY else {}
    w.store.conversations[key] = Conversation(key, state, images, mask, EditOptions(), data, w.now)


def _seed_old_job(w: World) -> None:
    w.store.jobs["old"] = Job(
        id="old",
        idempotency_key="console:old",
        platform="console",
        chat_id="c1",
        user_id="u1",
        community_id=None,
        origin={},
        images=(w.ref("p1"),),
        mask=None,
        prompt="earlier prompt",
        model="gpt-image-1",
        options=EditOptions(model="gpt-image-1", n=1),
        credits=1,
        period_start=datetime(2026, 1, 1, tzinfo=UTC),
        status=JobStatus.SUCCEEDED,
        result_refs=(w.ref("r1"),),
    )
    w.store.scopes["old"] = ()


@pytest.mark.parametrize("event_name", list(EVENTS))
@pytest.mark.parametrize("state", list(TABLE))
async def test_transition(state: ConvState, event_name: str) -> None:
    async with World() as w:
        for name in ("p1", "p2", "p3", "m1", "r1"):
            w.fetcher.add(name, w.image)
        _seed_old_job(w)
        _seed_state(w, state)
        expected_state, expected = TABLE[state][event_name]
        expected_state = expected_state or state

        actions = await w.engine.handle(w.origin(), EVENTS[event_name](w))
        await w.runner.wait_idle()

        conv = await w.store.get_conversation(conversation_key(w.origin()))
        assert (conv.state if conv else S.IDLE) is expected_state
        new_jobs = [j for j in w.store.jobs if j != "old"]
        if expected == JOB:
            assert len(new_jobs) == 1 and not [a for a in actions if isinstance(a, SendError)]
            assert w.store.jobs[new_jobs[0]].status is JobStatus.SUCCEEDED
        else:
            assert new_jobs == []
            assert [a.text.key for a in actions if isinstance(a, SendText)] == expected


def test_table_is_exhaustive() -> None:
    assert set(TABLE) == set(ConvState)
    for row in TABLE.values():
        assert set(row) == set(EVENTS)


async def test_text_in_awaiting_prompt_uses_stored_mask_and_images() -> None:
    async with World() as w:
        for name in ("p1", "m1"):
            w.fetcher.add(name, w.image)
        _seed_state(w, S.AWAITING_PROMPT)
        await w.engine.handle(w.origin(), TextReceived("  add a hat  "))
        await w.runner.wait_idle()
        (job,) = w.store.jobs.values()
        assert job.prompt == "add a hat" and job.mask == w.ref("m1") and job.images == (w.ref("p1"),)


async def test_edit_again_with_prompt_runs_on_result() -> None:
    async with World() as w:
        w.fetcher.add("r1", w.image)
        _seed_old_job(w)
        await w.engine.handle(w.origin(), ButtonPressed("edit_again", "old", prompt="now green"))
        await w.runner.wait_idle()
        (job,) = [j for j in w.store.jobs.values() if j.id != "old"]
        assert job.images == (w.ref("r1"),) and job.prompt == "now green"


async def test_edit_again_without_result_refs() -> None:
    async with World() as w:
        _seed_old_job(w)
        w.store.jobs["old"] = replace(w.store.jobs["old"], result_refs=())
        actions = await w.engine.handle(w.origin(), ButtonPressed("edit_again", "old"))
        assert [a.text.key for a in actions] == ["result_unavailable"]


async def test_button_for_unknown_job() -> None:
    async with World() as w:
        actions = await w.engine.handle(w.origin(), ButtonPressed("retry", "nope"))
        assert [a.text.key for a in actions] == ["result_gone"]


async def test_engine_is_fresh_per_process() -> None:
    """A second engine on the same store continues the conversation (restart or second process)."""
    async with World() as w:
        w.fetcher.add("p1", w.image)
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),)))
        second = ConversationEngine(w.store, w.runner, w.engine.config)
        await second.handle(w.origin(), TextReceived("make it blue"))
        await w.runner.wait_idle()
        (job,) = w.store.jobs.values()
        assert job.status is JobStatus.SUCCEEDED and job.prompt == "make it blue"
