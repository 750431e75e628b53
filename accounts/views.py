"""One's own account: sessions (and ending one), password, second factor (set up, verify, recovery codes). Thin:
fetch, validate a form, call one service, redirect."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from accounts import mfa
from accounts.forms import CodeForm
from accounts.models import UserSession
from audit.services import audit_record
from core.models import ApiToken
from core.request_types import AuthenticatedHttpRequest

CODES = "accounts.recovery_codes"


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


def _store(request: HttpRequest) -> type[SessionBase]:
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore  # type: ignore[no-any-return]


class AccountView(View):
    """The signed-in user's sessions, API tokens, second factor and password."""

    def get(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        store = _store(request)
        sessions = [s for s in UserSession.objects.filter(user=request.user) if store().exists(s.session_key)]
        ctx = {
            "sessions": sessions,
            "current_key": request.session.session_key,
            "tokens": ApiToken.objects.filter(user=request.user).order_by("-id")[:50],
            "has_mfa": mfa.has_second_factor(request.user),
            "mfa_required": mfa.mfa_required(request.user),
        }
        return render(request, "accounts/account.html", ctx)


class SessionEndView(View):
    def post(self, request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
        session = get_object_or_404(UserSession, pk=pk, user=request.user)
        _store(request)(session.session_key).delete()
        session.delete()
        audit_record(
            actor=request.user, action="session.end", obj=request.user, object_type="user", detail={"ip": session.ip}
        )
        if session.session_key == request.session.session_key:
            return redirect("login")
        messages.success(request, f"Ended the session from {session.ip or 'an unknown address'}.")
        return redirect("accounts:account")


@method_decorator(sensitive_post_parameters(), name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change; every other session of the user ends with it."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:account")

    def form_valid(self, form: Any) -> HttpResponse:
        before = self.request.session.session_key
        response = super().form_valid(form)  # keeps this session under a new key (update_session_auth_hash)
        UserSession.objects.filter(session_key=before).update(session_key=self.request.session.session_key)
        store = _store(self.request)
        user = form.user  # the signed-in user whose password changed
        others = UserSession.objects.filter(user=user).exclude(session_key=self.request.session.session_key)
        for session in others:
            store(session.session_key).delete()
        ended = others.count()
        others.delete()
        audit_record(
            actor=user,
            action="password.change",
            obj=user,
            object_type="user",
            detail={"sessions_ended": ended},
        )
        messages.success(self.request, "Password changed." + (f" {ended} other session(s) ended." if ended else ""))
        return response


class MfaSetupView(View):
    """Add (or replace) the authenticator: scan the code, type a code from the app."""

    def _render(self, request: AuthenticatedHttpRequest, form: CodeForm, status: int = 200) -> HttpResponse:
        device = mfa.pending_authenticator(request.user)
        ctx = {
            "form": form,
            "qr": mfa.qr_svg(device),
            "secret": _base32(device),
            "next": _next(request),
            "required": mfa.mfa_required(request.user),
        }
        return render(request, "accounts/mfa_setup.html", ctx, status=status)

    def get(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        if mfa.has_second_factor(request.user) and not _verified(request):
            return redirect(f"{reverse_lazy('accounts:mfa-verify')}?next={_next(request)}")
        return self._render(request, CodeForm())

    def post(self, request: AuthenticatedHttpRequest) -> HttpResponseBase:
        if mfa.has_second_factor(request.user) and not _verified(request):
            return redirect("accounts:mfa-verify")
        form = CodeForm(request.POST)
        if form.is_valid():
            codes = mfa.mfa_confirm(
                request=request, device=mfa.pending_authenticator(request.user), token=form.cleaned_data["code"]
            )
            if codes is not None:
                request.session[CODES] = codes
                return redirect(f"{reverse_lazy('accounts:mfa-codes')}?next={_next(request)}")
            form.add_error("code", "That code is not the one the authenticator shows now. Try the next one.")
        return self._render(request, form, status=400)


class MfaVerifyView(View):
    def get(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        return render(request, "accounts/mfa_verify.html", {"form": CodeForm(), "next": _next(request)})

    def post(self, request: AuthenticatedHttpRequest) -> HttpResponseBase:
        form = CodeForm(request.POST)
        if form.is_valid() and mfa.mfa_verify(request=request, token=form.cleaned_data["code"]):
            return redirect(_next(request))
        if form.is_valid():
            form.add_error("code", "That code was not accepted. Wrong codes make the next try wait longer.")
        ctx = {"form": form, "next": _next(request)}
        return render(request, "accounts/mfa_verify.html", ctx, status=400)


class MfaCodesView(View):
    """The recovery codes, once: right after they were made."""

    def get(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        codes = request.session.pop(CODES, None)
        return render(request, "accounts/mfa_codes.html", {"codes": codes, "next": _next(request)})

    def post(self, request: AuthenticatedHttpRequest) -> HttpResponseBase:
        if not mfa.has_second_factor(request.user):
            return redirect("accounts:mfa-setup")
        request.session[CODES] = mfa.recovery_codes_renew(user=request.user)
        return redirect("accounts:mfa-codes")


def _base32(device: Any) -> str:
    from base64 import b32encode

    return b32encode(device.bin_key).decode().rstrip("=")


def _verified(request: HttpRequest) -> bool:
    """Whether this session passed the second factor (django-otp's ``OTPMiddleware`` sets ``is_verified``)."""
    return bool(getattr(request.user, "is_verified", lambda: False)())
