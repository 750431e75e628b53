"""Answers for injected faults, shaped like each host's own errors (``sim.faults`` is one shared
:class:`simulators._common.FaultInjector`; rules match on the path, so ``path_contains="/oauth2/"`` hits only Entra,
``"/_apis/tokens/pats"`` only the PAT API and ``"/_packaging/"`` only the feeds).

- Entra: ``{"error": "temporarily_unavailable" | "server_error", "error_description": "AADSTS…", …}``; 429 carries
  ``Retry-After`` (msal's ``x-ms-lib-capability: retry-after, h429`` header announces that it honours it).
- vssps and pkgs: an Azure DevOps service error body; 429 is the throttling answer ("Rate and usage limits":
  ``Retry-After`` plus ``X-RateLimit-Resource``/``X-RateLimit-Delay``/``X-RateLimit-Limit``/
  ``X-RateLimit-Remaining``/``X-RateLimit-Reset``).
"""

from __future__ import annotations

import uuid

from simulators._common import Fault

from .wire import Reply, vss_error

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def fault_reply(host: str, fault: Fault, now_epoch: float) -> Reply:
    assert isinstance(fault.status, int)
    status = fault.status
    retry = fault.retry_after if fault.retry_after is not None else (1 if status == 429 else None)
    headers: list[tuple[str, str]] = []
    if retry is not None:
        headers.append(("Retry-After", str(int(retry))))
    if host == "entra":
        code = fault.error_code or ("temporarily_unavailable" if status in (429, 503) else "server_error")
        number = 90055 if status == 429 else 50000
        text = fault.message or (
            "TenantThrottlingError - There are too many incoming requests."
            if status == 429
            else "TokenIssuanceError - There's an issue with the sign-in service."
        )
        trace = str(uuid.uuid4())
        return Reply.json(
            status,
            {
                "error": code,
                "error_description": f"AADSTS{number}: {text} Trace ID: {trace}",
                "error_codes": [number],
                "trace_id": trace,
                "correlation_id": str(uuid.uuid4()),
            },
            headers=headers,
        )
    if status == 429:
        delay = retry if retry is not None else 1
        headers += [
            ("X-RateLimit-Resource", "ATCPU"),
            ("X-RateLimit-Delay", f"{float(delay):.3f}"),
            ("X-RateLimit-Limit", "200"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", str(int(now_epoch + delay))),
        ]
        message = fault.message or (
            "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource "
            "'ATCPU' in namespace 'User'."
        )
        return Reply.json(429, vss_error(message, fault.error_code or "RequestBlockedException"), headers=headers)
    if status in (502, 504) and fault.message is None:
        reason = REASONS[status]
        page = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
        return Reply.html(status, page, headers=headers)
    message = fault.message or f"TF400898: An Internal Error Occurred. Activity Id: {uuid.uuid4()}."
    if status < 500 and fault.message is None:
        message = f"Simulated fault: HTTP {status} {REASONS.get(status, '')}".strip()
    return Reply.json(status, vss_error(message, fault.error_code or "VssServiceException"), headers=headers)
