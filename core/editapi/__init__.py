"""Client for OpenAI-compatible ``POST {base}/images/edits`` endpoints, relays included.

Modules: :mod:`~core.editapi.types` (request/result values), :mod:`~core.editapi.request`
(validation, multipart), :mod:`~core.editapi.response` and :mod:`~core.editapi.links` (answer
flavours), :mod:`~core.editapi.download` (result links), :mod:`~core.editapi.failures` (error
mapping onto :mod:`core.errors`), :mod:`~core.editapi.client` (the call and its retries).
"""

from core.editapi.client import EditClient, make_http_client
from core.editapi.sniff import image_format
from core.editapi.types import EditRequest, EditResult, Usage

__all__ = ["EditClient", "EditRequest", "EditResult", "Usage", "image_format", "make_http_client"]
