"""Every page needs login; the API answers 401 itself and /healthz is anonymous."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.http import HttpRequest, HttpResponseBase

ANONYMOUS_PREFIXES = ("/api/", "/healthz", "/static/")


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Django's login-required middleware, leaving the API (bearer tokens, 401) and /healthz alone."""

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        if request.path.startswith(ANONYMOUS_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class SensitivePostParametersMiddleware:
    """``sensitive_post_parameters`` for every view: Feedkeeper's forms and API bodies carry tokens, client secrets
    and webhook URLs, so an error report (the admins' mail, a debug page) shows no POST value at all, whichever
    view took it. A view may still narrow it with Django's decorator."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            request.sensitive_post_parameters = "__ALL__"  # type: ignore[attr-defined]
        return self.get_response(request)
