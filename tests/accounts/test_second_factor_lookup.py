"""The second-factor middleware asks, in one query per request, whether the user has a confirmed device of any
kind and which role their groups give; both are read fresh on every request."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa import _new_recovery_codes, has_second_factor_and_role
from core.roles import role_of
from tests.support.mfa import give_authenticator


def test_one_query_answers_the_device_and_the_role(viewer: User, django_assert_num_queries: Any) -> None:
    user = User.objects.get(pk=viewer.pk)
    with django_assert_num_queries(1):
        assert has_second_factor_and_role(user) is False
        assert role_of(user) == "viewer"


def test_a_confirmed_authenticator_or_recovery_codes_count_an_unconfirmed_one_does_not(admin: User) -> None:
    TOTPDevice.objects.create(user=admin, name="pending", confirmed=False)
    assert has_second_factor_and_role(User.objects.get(pk=admin.pk)) is False
    give_authenticator(admin)
    user = User.objects.get(pk=admin.pk)
    assert has_second_factor_and_role(user) is True and role_of(user) == "admin"
    TOTPDevice.objects.filter(user=admin).delete()
    _new_recovery_codes(admin)
    assert has_second_factor_and_role(User.objects.get(pk=admin.pk)) is True


def test_a_role_taken_away_counts_from_the_next_request(viewer: User) -> None:
    assert (has_second_factor_and_role(User.objects.get(pk=viewer.pk)), role_of(viewer)) == (False, "viewer")
    viewer.groups.clear()
    user = User.objects.get(pk=viewer.pk)
    has_second_factor_and_role(user)
    assert role_of(user) is None
