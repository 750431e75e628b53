"""Session rules: an idle session ends (``SESSION_IDLE_MINUTES``); a password session of a user who needs a second
factor must pass it before anything else."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import UserSession
from accounts.oidc import SSO_SESSION

LAST_ACTIVITY = "accounts.last_activity"
# Where an unverified session may go: the second-factor pages, logging out, and what needs no login at all.
MFA_OPEN_PREFIXES = ("/account/2fa/", "/account/sso/", "/logout/", "/login/", "/static/", "/healthz", "/metrics")
SEEN_EVERY = timedelta(minutes=1)


def _redirect(request: HttpRequest, to: str) -> HttpResponseBase:
    """A redirect that also works for htmx (which would swap a redirected page into a fragment)."""
    if request.headers.get("HX-Request"):
        response = HttpResponse()
        response["HX-Redirect"] = to
        return response
    return HttpResponseRedirect(to)


class IdleTimeoutMiddleware:
    """Log a session out after ``SESSION_IDLE_MINUTES`` without activity. Background polls (htmx GETs refreshing a
    page left open) are not activity, so an open tab does not keep a session alive for ever."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            last = request.session.get(LAST_ACTIVITY)
            if last is not None and now - float(last) > settings.SESSION_IDLE_MINUTES * 60:
                UserSession.objects.filter(session_key=request.session.session_key).delete()
                logout(request)
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": "Your session ended after inactivity: log in again."}, status=401)
                return _redirect(request, f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}")
            background = request.method == "GET" and bool(request.headers.get("HX-Request"))
            # Activity is written at most once a minute: a session save and a row update per request would be
            # work on every page for a figure nobody reads to the second.
            if last is None or (not background and now - float(last) >= SEEN_EVERY.total_seconds()):
                request.session[LAST_ACTIVITY] = now
                UserSession.objects.filter(session_key=request.session.session_key).update(last_seen_at=timezone.now())
        return self.get_response(request)


class SecondFactorMiddleware:
    """A password session whose user needs a second factor goes to set one up (none yet) or to enter a code (not
    verified in this session) before any other page; the API answers 403 to such a session. Needs django-otp's
    ``OTPMiddleware`` before it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        from accounts.mfa import has_second_factor_and_role, mfa_required

        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_verified()
            and not request.session.get(SSO_SESSION)  # the identity provider owns the second factor
            and not request.path.startswith(MFA_OPEN_PREFIXES)
        ):
            has_device = has_second_factor_and_role(user)
            if has_device or mfa_required(user):
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": "Enter your second factor in the dashboard first."}, status=403)
                page = "accounts:mfa-verify" if has_device else "accounts:mfa-setup"
                return _redirect(request, f"{reverse(page)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
