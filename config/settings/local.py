"""Settings for `make run` and `make demo`: debug on, embedded defaults, a generated local key."""

from core.keys import local_encryption_keys, local_fingerprint_key, local_secret_key

from .base import *  # noqa: F403
from .base import DATA_DIR, FIELD_ENCRYPTION_KEYS, FINGERPRINT_KEY, SECRET_KEY, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = SECRET_KEY or local_secret_key(DATA_DIR)
FIELD_ENCRYPTION_KEYS = FIELD_ENCRYPTION_KEYS or local_encryption_keys(DATA_DIR)
FINGERPRINT_KEY = FINGERPRINT_KEY or local_fingerprint_key(DATA_DIR)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
