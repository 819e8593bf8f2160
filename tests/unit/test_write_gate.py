"""The SQLite write gate: one writer at a time, urgent writes before a running job's bookkeeping."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from core.storage.gate import WriteGate, background, foreground, gate_for, urgent


async def _queue(gate: WriteGate, order: list[str], name: str, *, in_background: bool) -> None:
    if in_background:
        background()  # this task only
    async with gate.hold():
        order.append(name)
        await asyncio.sleep(0)


async def test_urgent_writers_go_first_then_arrival_order() -> None:
    gate, order = WriteGate(), []
    async with gate.hold():  # a write in progress: everyone below queues
        tasks = []
        arrivals = [("job 1", True), ("message 1", False), ("job 2", True), ("message 2", False)]
        for name, in_background in arrivals:
            tasks.append(asyncio.create_task(_queue(gate, order, name, in_background=in_background)))
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["message 1", "message 2", "job 1", "job 2"]


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    gate, order = WriteGate(), []
    async with gate.hold():
        gone = asyncio.create_task(_queue(gate, order, "gone", in_background=False))
        kept = asyncio.create_task(_queue(gate, order, "kept", in_background=False))
        await asyncio.sleep(0)
        gone.cancel()
    await asyncio.gather(gone, kept, return_exceptions=True)
    assert order == ["kept"]
    async with gate.hold():  # and the gate is free again
        pass


async def test_the_mark_ends_with_its_block() -> None:
    gate, order = WriteGate(), []
    async with gate.hold():
        with background():
            late = asyncio.create_task(_queue(gate, order, "bookkeeping", in_background=False))
        await asyncio.sleep(0)
        soon = asyncio.create_task(_queue(gate, order, "reply", in_background=False))
        await asyncio.sleep(0)
    await asyncio.gather(late, soon)
    assert order == ["reply", "bookkeeping"]


async def test_a_background_task_writes_in_the_foreground_inside_foreground() -> None:
    """A job's call start (its paid call waits for it) queues with the new jobs, not behind them."""
    gate, order = WriteGate(), []

    async def call_start() -> None:
        background()  # a running job's task
        with foreground():
            async with gate.hold():
                order.append("call start")
        async with gate.hold():
            order.append("its bookkeeping")

    async with gate.hold():
        tasks = [asyncio.create_task(call_start())]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(_queue(gate, order, "new job", in_background=False)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["call start", "new job", "its bookkeeping"]


async def test_taking_in_messages_goes_before_everything() -> None:
    gate, order = WriteGate(), []

    async def intake() -> None:
        urgent()
        async with gate.hold():
            order.append("updates")

    async with gate.hold():
        tasks = [
            asyncio.create_task(_queue(gate, order, "bookkeeping", in_background=True)),
            asyncio.create_task(_queue(gate, order, "new job", in_background=False)),
            asyncio.create_task(intake()),
        ]
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["updates", "new job", "bookkeeping"]


async def test_sqlite_engines_share_one_gate_and_other_databases_have_none(tmp_path: object) -> None:
    sqlite = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/g.db")
    other = create_async_engine("postgresql+asyncpg://u@127.0.0.1/none")  # never connected
    try:
        first, second = async_sessionmaker(sqlite), async_sessionmaker(sqlite)
        assert gate_for(first) is gate_for(second)
        assert gate_for(async_sessionmaker(other)) is not gate_for(first)
        held = []
        async with gate_for(async_sessionmaker(other)).hold(), gate_for(async_sessionmaker(other)).hold():
            held.append("both at once")  # PostgreSQL: no gate, row locks do the work
        assert held
    finally:
        await sqlite.dispose()
        await other.dispose()
