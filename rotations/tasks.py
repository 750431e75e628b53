"""Rotation tasks. Messages carry ids only; the database holds the state (and never a token in a message)."""

from __future__ import annotations

from celery import shared_task

from rotations import engine, services


@shared_task(name="rotations.advance", ignore_result=True)
def advance_rotation(rotation_id: int) -> str | None:
    return engine.advance(rotation_id)


@shared_task(name="rotations.tick", ignore_result=True)
def tick() -> dict[str, int]:
    return services.tick()


@shared_task(name="rotations.restart_readers", ignore_result=True)
def restart_old_value_readers(rotation_id: int, user_id: int | None) -> int:
    return len(services.rotation_restart_run(rotation_id=rotation_id, user_id=user_id))
