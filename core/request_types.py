"""Request types for view annotations, where middleware guarantees more than ``HttpRequest`` says."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class HtmxHttpRequest(HttpRequest):
    """A request that passed ``django_htmx.middleware.HtmxMiddleware``, which sets ``request.htmx``."""

    htmx: HtmxDetails


class AuthenticatedHttpRequest(HttpRequest):
    """A request to a page behind login (``core.middleware.LoginRequiredMiddleware``): the user is signed in."""

    user: User
