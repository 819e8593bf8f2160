"""The image pipeline: safe decoding, per-model preparation of edit inputs, masks, and result fitting.

Everything here is CPU bound and synchronous except :func:`prepare_inputs_async`, which runs the
pipeline in a worker thread; call Pillow-heavy functions from the event loop only through it or
``asyncio.to_thread``. Errors are :mod:`core.errors` input errors, never Pillow exceptions.
"""

from core.imaging.decode import ImageInfo, Limits, probe
from core.imaging.masks import MaskForm
from core.imaging.output import ImageDescription, describe, fit_for_upload
from core.imaging.pipeline import prepare_inputs, prepare_inputs_async

__all__ = [
    "ImageDescription",
    "ImageInfo",
    "Limits",
    "MaskForm",
    "describe",
    "fit_for_upload",
    "prepare_inputs",
    "prepare_inputs_async",
    "probe",
]
