"""The Celery application. Settings come from Django settings under the ``CELERY_`` prefix."""

import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, beat_init, task_prerun, worker_init

import core.broker  # noqa: F401  (registers the embedded broker's transport)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("feedkeeper")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

if str(app.conf.broker_url).startswith(("filesystem://", "fsatomic://")):
    # The embedded broker's folders must exist before any producer or consumer touches them.
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = app.conf.broker_transport_options.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_celery_logs(logger: object, **kwargs: object) -> None:
    """Celery's own handlers get the same redaction as Django's."""
    from core.redaction import RedactingFilter

    for handler in getattr(logger, "handlers", []):
        handler.addFilter(RedactingFilter())


@worker_init.connect
@beat_init.connect
def _verify_keys(**kwargs: object) -> None:
    """Worker and beat refuse to start with a wrong or missing key, like web (core.keycheck)."""
    from core.keycheck import verify_keys

    verify_keys()


@task_prerun.connect
def _close_old_connections(task: Any = None, **kwargs: object) -> None:
    """Before each task, what Django does before each request: close this thread's database connection if it
    failed or is older than ``CONN_MAX_AGE`` (``CONN_HEALTH_CHECKS`` tests a reused one on first use). The others
    are reused, not opened anew per task (``CELERY_DB_REUSE_MAX``). A task run eagerly, inside its caller, leaves
    the caller's connection alone."""
    if getattr(getattr(task, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
