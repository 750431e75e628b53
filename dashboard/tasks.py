"""Periodic work that reads across apps. Messages carry no secret."""

from __future__ import annotations

from celery import shared_task

from rotations.retention import token_versions_destroy


@shared_task(name="dashboard.destroy_retired_tokens", ignore_result=True)
def destroy_retired_tokens() -> int:
    """Wipe the ciphertext of token versions past their grace (``rotations.retention``)."""
    return token_versions_destroy()
