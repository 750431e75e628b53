"""Settings for `make test`. PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set (CI), else embedded."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES, env


def _run_dir() -> Path:
    """The test run's folder: the one named by ``FEEDKEEPER_TEST_RUN_DIR`` (a worker subprocess inherits its run's),
    else a new one that this process owns and removes when it exits (not a process forked from it)."""
    inherited = os.environ.get("FEEDKEEPER_TEST_RUN_DIR")
    if inherited:
        return Path(inherited)
    created = tempfile.mkdtemp(prefix="feedkeeper-tests-")
    os.environ["FEEDKEEPER_TEST_RUN_DIR"] = created
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(created, ignore_errors=True)

    atexit.register(remove)
    return Path(created)


# One folder per test run (inherited by worker subprocesses through the environment), so concurrent runs never
# share a SQLite file or a broker folder.
TEST_RUN_DIR = _run_dir()

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY", default="test-secret-key-not-for-production")
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS",
    default=["qTHzL8z8bS6cPz8k0bZ8n7Y4f1e5Ww3m2Xo0a6B8c9E=", "f6Q4qYb5Vt5qK2m3s8N1hX0c7j9L2d4R6t8y0u2w4zA="],
)
FINGERPRINT_KEY = env.str("FINGERPRINT_KEY", default="test-fingerprint-key-not-for-production")
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PLAIN_HTTP_HOSTS = ["127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Tasks run inline unless a test starts a real worker (tests/conftest.py `celery_worker_process`).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = False
# A scan after each system health check would call the simulators of every other test; findings tests turn it on.
FINDINGS_SCAN_AFTER_HEALTH = env.bool("FINDINGS_SCAN_AFTER_HEALTH", default=False)
# Each test process counts rate limits on its own (a shared Redis would let tests of other runs interfere), and the
# limits are off: user ids repeat from test to test, so counts would leak between them. Tests of the limits set them
# (tests/security/test_rate_limits.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "feedkeeper-tests"}}
API_RATE_LIMIT = ""
EXPENSIVE_RATE_LIMIT = ""
HTTP_CONNECT_TIMEOUT = 2.0
HTTP_READ_TIMEOUT = 5.0

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so a worker subprocess can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(TEST_RUN_DIR / "test-feedkeeper.sqlite3")}

if not env.str("REDIS_URL", default=""):
    # Tests use their own broker folder so a running `make run` worker never takes their tasks.
    _broker = TEST_RUN_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker / "queue"),
        "data_folder_out": str(_broker / "queue"),
        "processed_folder": str(_broker / "processed"),
        "control_folder": str(_broker / "control"),
        "store_processed": False,
    }
    BROKER_DIR = _broker
