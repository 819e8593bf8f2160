"""A result on its way to the user: its images, the buttons under it, and the full-size files
kept behind a "Full size" button (issue 11).

Where a platform recompresses photos (Telegram), the original files went out with every photo
that lost something: an extra upload and an extra call per edit. With a keep time set
(``EDITBOT_FULL_SIZE_HOURS``) they are kept in the database instead, and one press sends them.

Invariants:
- the kept files are the API's images, byte for byte (a press sends exactly what the edit made);
- a press is free (no quota is touched) and harmless when repeated: the store lets one press in
  :data:`RESEND_AFTER` send the files, and an expired or purged result gets a plain answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.actions import Action, Button, FullSizeOffer, OutputImage, SendFiles, SendText, Text
from core.events import Origin
from core.imaging import describe
from core.refs import FileFetcher, ImageRef
from core.storage.protocol import FullSizeState, Job, Store

FULL_SIZE = "full_size"
"""The "Full size" button's action (``ButtonPressed.action``)."""

# A second press within this time (a double tap, or two processes answering one) sends nothing.
RESEND_AFTER = timedelta(seconds=30)


def result_buttons(job_id: str) -> tuple[Button, ...]:
    """The buttons under every result."""
    return (
        Button("edit_again", job_id, Text("button_edit_again")),
        Button("retry", job_id, Text("button_retry")),
    )


def wants_file(job: Job) -> bool:
    """The result goes as a file too: a cut-out (a photo would lose its transparency to the
    platform's recompression), or inputs the user sent as files."""
    return bool(job.options.cutout) or any(ref.as_document for ref in job.images)


def output_image(data: bytes, job_id: str, index: int) -> OutputImage:
    """One image of a job's result, named after the job (CPU work: run it in a thread)."""
    width, height, content_type, ext = describe(data)
    suffix = f"-{index + 1}" if index else ""
    return OutputImage(data, f"edit-{job_id[:8]}{suffix}.{ext}", content_type, width, height)


def full_size_offer(
    store: Store, job: Job, images: Sequence[bytes], hours: float, now: datetime
) -> FullSizeOffer | None:
    """The offer an adapter takes up where its photo loses something: keep ``images`` for
    ``hours`` and show the button. None when the files go with the result anyway: the keep time
    is 0 (``EDITBOT_FULL_SIZE_HOURS``), or the user asked for a file (:func:`wants_file`)."""
    if hours <= 0 or wants_file(job):
        return None
    kept, expires_at = tuple(images), now + timedelta(hours=hours)

    async def keep() -> None:
        await store.keep_full_size(job.id, kept, expires_at)

    return FullSizeOffer(Button(FULL_SIZE, job.id, Text("button_full_size")), keep)


async def full_size_reply(store: Store, origin: Origin, job_id: str, now: datetime) -> Action:
    """What a "Full size" press gets: the original files, or a private word on why not."""
    found = await store.take_full_size(job_id, now, sent_before=now - RESEND_AFTER)
    match found.state:
        case FullSizeState.SEND:
            images = await asyncio.gather(
                *(asyncio.to_thread(output_image, data, job_id, i) for i, data in enumerate(found.images))
            )
            return SendFiles(origin, tuple(images))
        case FullSizeState.JUST_SENT:
            return SendText(origin, Text("full_size_just_sent"), private=True)
    return SendText(origin, Text("full_size_gone"), private=True)


async def input_image(store: Store, fetcher: FileFetcher, ref: ImageRef, limit: int, now: datetime) -> bytes:
    """An image to edit: the kept original behind a result photo while it is kept (an "Edit
    again" of a photo Telegram recompressed starts from what the API made), else the platform's."""
    if ref.original is not None:
        job_id, _, index = ref.original.rpartition(":")
        kept = await store.full_size_image(job_id, int(index), now)
        if kept is not None and len(kept) <= limit:
            return kept
    return await fetcher.fetch(ref, limit)
