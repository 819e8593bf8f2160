"""Console adapter: lines typed in a terminal become core events; actions are printed, results saved.

    /photo PATH     send a photo (no caption: the bot then asks for a mask or a prompt)
    /mask PATH      send a mask after the photo
    any text        the prompt (or, with a photo pending, the edit itself)
    /again /retry   press the buttons under the last result
    /usage /skip /cancel /help /quit

The user and chat are fixed (the login name, chat ``console``), so a restarted ``editbot chat``
continues the same conversation from the database.
"""

from __future__ import annotations

import asyncio
import getpass
import mimetypes
import sys
import uuid
from pathlib import Path
from typing import TextIO

from adapters.console import wording
from core import errors
from core.actions import (
    Action,
    Delivered,
    OutputImage,
    SendChart,
    SendError,
    SendFiles,
    SendImage,
    SendProgress,
    SendText,
    ShowDrawing,
    Text,
)
from core.engine import ConversationEngine
from core.events import ButtonPressed, Command, Event, ImageReceived, Origin, TextReceived
from core.identity import ChatRef, Platform, UserKey
from core.refs import ImageRef


class FileFetcher:
    """Reads local files named by console image references."""

    async def fetch(self, ref: ImageRef, max_bytes: int) -> bytes:
        """The file's bytes, refusing files over ``max_bytes`` before reading them."""
        return await asyncio.to_thread(_read_capped, Path(ref.file_id), max_bytes)


def _read_capped(path: Path, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise errors.ImageTooLarge(size=size, limit=max_bytes)
    return path.read_bytes()


class ConsoleOutbox:
    """Prints actions; writes result images into ``out_dir``."""

    upload_limit: int | None = None  # files on disk: any size
    keeps_png: bool = True

    def __init__(self, out: TextIO, out_dir: Path, locale: str) -> None:
        self._out = out
        self._dir = out_dir
        self._locale = locale
        self.last_job: str | None = None

    def _say(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    async def _save(self, image: OutputImage) -> Path:
        """Write ``image`` into the output folder (where the user opens it)."""
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._dir / image.filename
        await asyncio.to_thread(path.write_bytes, image.data)
        return path

    def has_room_for_preview(self, origin: Origin) -> bool:
        """A terminal has no budget."""
        return True

    async def send(self, action: Action) -> Delivered | None:
        """Show one action."""
        loc = self._locale
        match action:
            case SendText(text=text, buttons=buttons):
                self._say(wording.render(loc, text))
                for button in buttons:
                    self._say(f"  [{wording.render(loc, button.label)}] (/confirm)")
            case SendError(kind=kind, details=details):
                self._say("error: " + wording.render(loc, kind, **details))
            case SendProgress(text=text):
                self._say("… " + wording.render(loc, text))
            case SendChart(image=image, caption=caption) | ShowDrawing(image=image, caption=caption):
                path = await self._save(image)
                self._say(f"{wording.render(loc, caption)}: {path} ({image.width}x{image.height})")
            case SendFiles(images=images):
                for image in images:
                    self._say(f"file: {await self._save(image)} ({image.width}x{image.height})")
            case SendImage(job_id=job_id, images=images):
                refs = []
                for image in images:
                    path = await self._save(image)
                    self._say(f"result: {path} ({image.width}x{image.height})")
                    refs.append(ImageRef(Platform.CONSOLE, str(path.resolve()), filename=image.filename))
                self._say("  /again edits this result further, /retry runs the same edit again")
                self.last_job = job_id
                return Delivered(images=tuple(refs))
        return None


def _image_ref(arg: str) -> ImageRef:
    path = Path(arg).expanduser()
    if not path.is_file():
        raise FileNotFoundError(arg)
    mime, _ = mimetypes.guess_type(path.name)
    return ImageRef(
        Platform.CONSOLE, str(path.resolve()), filename=path.name, size=path.stat().st_size, mime=mime
    )


class ConsoleFrontend:
    """Reads lines, hands events to the engine, prints what comes back."""

    def __init__(self, engine: ConversationEngine, outbox: ConsoleOutbox, locale: str = "en") -> None:
        self._engine = engine
        self._outbox = outbox
        self._locale = locale
        self._user = UserKey(Platform.CONSOLE, getpass.getuser())
        self._pending_retry: str | None = None

    def _origin(self) -> Origin:
        return Origin(self._user, ChatRef(Platform.CONSOLE, "console"), uuid.uuid4().hex, locale=self._locale)

    def parse(self, line: str) -> Event | None:
        """The event a typed line stands for (None for an empty line)."""
        line = line.strip()
        if not line:
            return None
        if not line.startswith("/"):
            return TextReceived(line)
        name, _, args = line[1:].partition(" ")
        name = name.lower()
        if name in ("photo", "mask"):
            return ImageReceived((_image_ref(args.strip()),))
        if name in ("again", "retry", "confirm"):
            job = self._pending_retry if name == "confirm" else self._outbox.last_job
            if job is None:
                raise LookupError("there is no result yet")
            action = {"again": "edit_again", "retry": "retry", "confirm": "retry_confirm"}[name]
            self._pending_retry = job if name == "retry" else None
            return ButtonPressed(action, job)
        return Command(name, args.strip())

    async def run(self, lines: TextIO) -> None:
        """Process lines until /quit or end of input, then wait for edits still running."""
        await self._outbox.send(SendText(self._origin(), Text("help")))
        while True:
            line = await asyncio.to_thread(lines.readline)
            if not line or line.strip().lower() in ("/quit", "/exit"):
                break
            try:
                event = self.parse(line)
            except FileNotFoundError as exc:
                print(f"error: no such file: {exc.args[0]}", file=sys.stderr, flush=True)
                continue
            except LookupError as exc:
                print(f"error: {exc}", file=sys.stderr, flush=True)
                continue
            if event is None:
                continue
            for action in await self._engine.handle(self._origin(), event):
                await self._outbox.send(action)
            # One edit at a time in a terminal: wait for it so output stays in order.
            await self._engine.runner.wait_idle()
