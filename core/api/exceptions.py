"""API error handler: DRF's, plus redaction, and a JSON 500 that names no internals."""

import logging
from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.redaction import redact_data

log = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        log.exception("Unhandled API error in %s", context.get("view").__class__.__name__)
        return Response({"detail": "Internal error; it has been logged."}, status=500)
    response.data = redact_data(response.data)
    return response
