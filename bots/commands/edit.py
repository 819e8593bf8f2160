"""``editbot edit``: one edit from the command line — the quickest check that the API setup works.

Goes through the same image pipeline and edit client as the bots, but no database, quotas or
chat platform. Failures print one plain line (the users' catalog wording) and exit non-zero:
1 when the edit failed, 2 for bad arguments, unreadable files or missing settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import getpass
import io
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

from bots.settings import Settings, load_settings
from core.editapi import EditClient, EditRequest, EditResult, image_format, make_http_client
from core.editapi.stream import PartialImage, PartialSink
from core.errors import ConfigError, EditAPIError, EditbotError, RelayError
from core.i18n import explain, render
from core.identity import Platform, UserKey

NAME = "edit"
HELP = "edit one photo with the edit API and save the result (checks the API setup)"

_SUFFIX_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``editbot edit``."""
    parser.add_argument("image", type=Path, metavar="IMAGE", help="the photo to edit")
    parser.add_argument("-p", "--prompt", required=True, help="what to change")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="where to save")
    parser.add_argument("--mask", type=Path, help="PNG whose transparent area marks what to edit")
    parser.add_argument(
        "--image2",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="another input image (repeatable; GPT-image models take up to 16 in all)",
    )
    parser.add_argument("--model", help="model name (default: EDITBOT_MODEL)")
    parser.add_argument(
        "--size",
        help="1024x1024, 1536x1024, 1024x1536, auto; on gpt-image-2/2.5 also any WxH or 1k/2k/4k "
        "(default: the photo's own shape at 1K there, else the model's)",
    )
    parser.add_argument("--quality", help="low, medium, high, auto; xhigh and max on the 2.5 models")
    parser.add_argument("-n", type=int, default=1, help="how many results (1-10); extra ones go to OUT-2...")
    parser.add_argument(
        "--preview",
        type=Path,
        metavar="DIR",
        help="stream the edit (models that can): save each partial image in DIR as it arrives, with its time",
    )
    parser.add_argument(
        "--cutout", action="store_true", help="transparent background, saved as PNG (models that can)"
    )
    parser.add_argument(
        "--no-keep-details",
        dest="keep_details",
        action="store_false",
        help="don't ask for high input fidelity (faces and details) where the model has it",
    )


def run(args: argparse.Namespace) -> int:
    """Run the edit; return the exit status."""
    # Retries are worth seeing while waiting; everything else arrives as the final one-line message.
    logging.basicConfig(level=logging.WARNING, format="editbot: %(message)s")
    try:
        return asyncio.run(_edit(args))
    except ConfigError:
        raise  # bots.cli prints it and exits 2
    except EditbotError as exc:
        _fail(describe(exc))
        return 1
    except OSError as exc:
        _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        return 2
    except Exception as exc:  # a bug; still one line, never a traceback
        _fail(f"unexpected error ({type(exc).__name__}): {exc}")
        return 1


def describe(exc: EditbotError) -> str:
    """One plain line for ``exc``: the catalog text, plus the HTTP status for API failures."""
    kind, details = explain(exc)
    text = render("en", kind, **details)
    if _PLACEHOLDER.search(text):
        text = str(exc)  # the raiser did not supply what the catalog text needs
    if isinstance(exc, RelayError) and exc.details.get("reason"):
        # Users get the plain catalog text; the operator at the terminal needs the relay's own words.
        text += f" The service said: {exc.details['reason']}"
    if isinstance(exc, EditAPIError) and exc.status:
        text += f" (HTTP {exc.status}{', ' + exc.code if exc.code else ''})"
    return " ".join(text.split())


def _fail(message: str) -> None:
    print(f"editbot: {message}", file=sys.stderr)


async def _edit(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.api_key is None or not settings.api_key.get_secret_value():
        raise ConfigError("EDITBOT_API_KEY is not set: put the edit API's key in the environment or .env")
    # Imported here so `editbot --help` works even where the image pipeline cannot load.
    from core.events import EditOptions
    from core.imaging import prepare_inputs_async
    from core.outputs import choose_outputs

    # Checked before the paid call: a result that cannot be written would be paid for and lost.
    await asyncio.to_thread(check_writable, output_paths(args.output, args.n or 1))
    model = args.model or settings.model
    catalogue = settings.model_catalogue()
    spec = catalogue.spec(model)
    if spec.retired is not None:
        _fail(f"warning: {model} was retired on {spec.retired}; use {spec.replacement or 'a current model'}")
    images = [path.read_bytes() for path in [args.image, *args.image2]]
    mask = args.mask.read_bytes() if args.mask else None
    inputs = await prepare_inputs_async(
        images, mask, spec, args.size, max_input_bytes=settings.max_input_bytes
    )
    options = EditOptions(keep_details=args.keep_details, cutout=args.cutout or None)
    outputs = choose_outputs(spec, options, inputs.size, upload_limit=None)
    request = EditRequest(
        inputs=inputs,
        prompt=args.prompt,
        model=model,
        n=args.n,
        quality=args.quality,
        user=_pseudonym(settings),
        input_fidelity=outputs.input_fidelity,
        background=outputs.background,
        output_format=outputs.output_format,
        output_compression=outputs.output_compression,
    )
    async with make_http_client(settings.api_timeout) as http:
        client = EditClient(
            http,
            settings.api_base_url,
            settings.api_key.get_secret_value(),
            catalogue=catalogue,
            total_timeout=settings.api_timeout,
        )
        print(f"editing with {model} at {client.url} ...", file=sys.stderr, flush=True)
        on_partial = _preview_saver(args.preview) if args.preview is not None else None
        if on_partial is not None and not client.streams(request):
            print(f"{model} does not stream here (or n > 1): no previews", file=sys.stderr, flush=True)
        async with _progress(sys.stderr):
            result = await client.edit(request, on_partial)
    for line in await asyncio.to_thread(_save, result, args.output):
        print(line)
    if result.usage is not None:
        u = result.usage
        print(
            f"usage: {_n(u.input_tokens)} input + {_n(u.output_tokens)} output = {_n(u.total_tokens)} tokens"
        )
    return 0


def _preview_saver(folder: Path) -> PartialSink:
    """A sink that writes each partial image to ``folder`` and prints when it arrived."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    async def save(partial: PartialImage) -> None:
        data = partial.decode()
        ext = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}.get(image_format(data) or "", "bin")
        path = folder / f"partial-{partial.index + 1}.{ext}"
        await asyncio.to_thread(path.write_bytes, data)
        print(f"partial {partial.index + 1} after {time.monotonic() - started:.1f} s: {path}", flush=True)

    return save


def _pseudonym(settings: Settings) -> str:
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        name = "console"
    return UserKey(Platform.CONSOLE, name).pseudonym(settings.secret_for_pseudonyms())


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)


def output_paths(out: Path, count: int) -> list[Path]:
    """``OUT`` for the first result, then ``OUT-2``, ``OUT-3``... (before the extension)."""
    return [out] + [out.with_name(f"{out.stem}-{k}{out.suffix}") for k in range(2, count + 1)]


def check_writable(paths: list[Path]) -> None:
    """Raise :class:`OSError` (naming the path) unless every output path can be written."""
    for path in paths:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            if not os.access(path, os.W_OK):
                raise PermissionError(errno.EACCES, "not writable", str(path))
            continue
        # Create and remove a sibling: the surest test that the directory takes new files.
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=True):
            pass


def _save(result: EditResult, out: Path) -> list[str]:
    from PIL import Image

    lines = []
    for path, data in zip(output_paths(out, len(result.images)), result.images, strict=True):
        wanted, got = _SUFFIX_FORMAT.get(path.suffix.lower()), image_format(data)
        with Image.open(io.BytesIO(data)) as img:
            size = img.size
            if wanted is not None and wanted != got:
                # Honour the extension the user chose rather than write PNG bytes into a .jpg.
                buf = io.BytesIO()
                (img.convert("RGB") if wanted == "JPEG" else img).save(buf, format=wanted)
                data, got = buf.getvalue(), wanted
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        lines.append(f"wrote {path} ({size[0]}x{size[1]} {got}, {len(data) // 1024} KB)")
    return lines


@contextlib.asynccontextmanager
async def _progress(stream: TextIO, every: float = 5.0) -> AsyncIterator[None]:
    """Show elapsed seconds on ``stream`` while the body runs (in place on a TTY, else every ``every`` s)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    tty = stream.isatty()

    async def tick() -> None:
        shown = 0
        while True:
            await asyncio.sleep(1.0 if tty else every)
            elapsed = int(loop.time() - started)
            if tty:
                stream.write(f"\rwaiting for the image service... {elapsed} s")
            elif elapsed > shown:
                stream.write(f"still waiting for the image service ({elapsed} s)\n")
                shown = elapsed
            stream.flush()

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if tty:
            stream.write("\r\033[K")
            stream.flush()
