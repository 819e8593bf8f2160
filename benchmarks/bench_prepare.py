"""Benchmark: ``prepare_inputs`` against a naive Pillow pipeline, per model family, in the same run.

Run from the project root::

    .venv/bin/python -m benchmarks.bench_prepare [--runs 7]

The input is a generated 12-megapixel (4000x3000) photo-like JPEG (gradients, shapes, sensor-like
noise; quality 90) carrying EXIF Orientation=6, like a phone picture taken upright.

The naive baseline is what a first version would do: ``Image.open().load()`` at full resolution,
``convert("RGBA")``, a plain LANCZOS resize to the same output size as ours, ``save(PNG)`` with
Pillow's defaults. (It does not even rotate, so it flatters the baseline.)

Time: median wall time of ``--runs`` calls after one warm-up call.

Memory: every variant runs in a fresh subprocess; its peak is ``ru_maxrss`` (the kernel's high-water
mark of resident memory) after the runs minus ``ru_maxrss`` just before them, when the interpreter,
Pillow and the input bytes are already loaded. tracemalloc would miss the point: Pillow allocates
pixel buffers with C ``malloc``, outside Python's allocator, so only RSS sees them. Linux carries a
parent's high-water mark into a child across exec, so the parent stays small: even the photo is
generated in a subprocess.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from core.catalogue import DALLE2, GPT_IMAGE_1, GPT_IMAGE_25_FLARE, ModelSpec
from core.imaging import prepare_inputs, probe
from core.imaging.layout import plan
from tests.unit.imaging_samples import encode, photo

ROOT = Path(__file__).resolve().parents[1]
# Preset sizes (the upload is scaled to the plan), and free sizes (the default model: the upload
# keeps the size the JPEG decoder's DCT scaling gives, 2000x1500 here, with no resample).
FAMILIES: dict[str, ModelSpec] = {
    "dall-e-2": DALLE2,
    "gpt-image-1": GPT_IMAGE_1,
    "gpt-image-2.5": GPT_IMAGE_25_FLARE,
}
VARIANTS = ("naive", "ours")
# The targets this benchmark exists to hold the pipeline to.
TARGET_SPEEDUP = 3.0
TARGET_MEMORY_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Measurement:
    """One variant's figures: median seconds per call and peak extra resident memory in KiB."""

    variant: str
    family: str
    median_s: float
    peak_kib: int


def make_photo(width: int = 4000, height: int = 3000, *, seed: int = 1) -> bytes:
    """A photo-like JPEG (quality 90) with EXIF Orientation=6, as a phone sends it; deterministic."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(photo(width, height, seed=seed, noise=0.12), "JPEG", quality=90, exif=exif)


def run_ours(data: bytes, spec: ModelSpec) -> int:
    """One call of the real pipeline; returns the bytes it would upload."""
    return len(prepare_inputs([data], None, spec).images[0].data)


def naive_target(data: bytes, spec: ModelSpec) -> tuple[int, int]:
    """The size the plan asks for ``data`` (the naive baseline resizes to it; ours uploads that, or
    more where the model can use more and keeping it is cheaper)."""
    info = probe(data)
    return plan(spec, (info.width, info.height), None).canvas


def run_naive(data: bytes, target: tuple[int, int]) -> int:
    """The naive pipeline: full decode, RGBA, LANCZOS resize, default PNG; returns the PNG's size."""
    image = Image.open(io.BytesIO(data))
    image.load()
    rgba = image.convert("RGBA")
    small = rgba.resize(target, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "PNG")
    return len(buf.getvalue())


def measure(variant: str, family: str, data: bytes, runs: int) -> Measurement:
    """Time ``runs`` calls of ``variant`` (after a warm-up) and the resident-memory growth they cause.

    Meant to run in a fresh process (see :func:`measure_in_subprocess`): ru_maxrss only ever grows.
    """
    spec = FAMILIES[family]
    target = naive_target(data, spec)

    def call() -> int:
        return run_naive(data, target) if variant == "naive" else run_ours(data, spec)

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    call()  # warm-up: lazy plugin imports, first allocations
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline
    return Measurement(variant=variant, family=family, median_s=statistics.median(times), peak_kib=peak)


def measure_in_subprocess(variant: str, family: str, photo: Path, runs: int) -> Measurement:
    """:func:`measure` in a fresh interpreter, so the memory peak is this variant's alone."""
    out = _module(["--worker", variant, family, str(photo), "--runs", str(runs)])
    return Measurement(**json.loads(out.strip().splitlines()[-1]))


def _module(args: list[str]) -> str:
    """Run this module with ``args`` in a fresh interpreter; return its standard output."""
    command = [sys.executable, "-m", "benchmarks.bench_prepare", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def report(results: list[Measurement]) -> str:
    """The results table and, per family, the ratios against the naive baseline."""
    lines = [f"{'family':<12} {'variant':<7} {'median ms':>10} {'peak MiB':>9}"]
    for m in results:
        lines.append(f"{m.family:<12} {m.variant:<7} {m.median_s * 1000:>10.1f} {m.peak_kib / 1024:>9.1f}")
    lines.append("")
    lines.append(f"{'family':<12} {'speed-up (naive/ours)':>22} {'memory (ours/naive)':>20}")
    by_key = {(m.family, m.variant): m for m in results}
    for family in FAMILIES:
        naive, ours = by_key.get((family, "naive")), by_key.get((family, "ours"))
        if naive is None or ours is None:
            continue
        speedup = naive.median_s / ours.median_s
        share = max(ours.peak_kib, 1) / max(naive.peak_kib, 1)
        verdict = "ok" if speedup >= TARGET_SPEEDUP and share <= TARGET_MEMORY_SHARE else "MISSED"
        lines.append(f"{family:<12} {speedup:>21.1f}x {share:>19.2f}x  {verdict}")
    lines.append(f"targets: speed-up >= {TARGET_SPEEDUP:.0f}x, memory <= {TARGET_MEMORY_SHARE:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Generate the photo, measure every family x variant in its own process, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed calls per variant (default 5)")
    parser.add_argument("--worker", nargs=3, metavar=("VARIANT", "FAMILY", "PHOTO"), help=argparse.SUPPRESS)
    parser.add_argument("--make-photo", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.make_photo:
        Path(args.make_photo).write_bytes(make_photo())
        return 0
    if args.worker:
        variant, family, photo = args.worker
        print(json.dumps(asdict(measure(variant, family, Path(photo).read_bytes(), args.runs))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.jpg"
        _module(["--make-photo", str(photo)])
        info = probe(photo.read_bytes())
        print(
            f"input: {info.width}x{info.height} upright (stored 4000x3000, EXIF orientation "
            f"{info.orientation}), JPEG q90, {photo.stat().st_size / 1024 / 1024:.1f} MiB; "
            f"{args.runs} timed runs per variant"
        )
        results = [
            measure_in_subprocess(variant, family, photo, args.runs)
            for family in FAMILIES
            for variant in VARIANTS
        ]
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
