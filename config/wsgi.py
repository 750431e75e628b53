"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

application = get_wsgi_application()

# Refuse to serve with a wrong or missing encryption key, or a changed FINGERPRINT_KEY (core.keycheck).
from core.keycheck import verify_keys  # noqa: E402 - needs the settings get_wsgi_application() loaded

verify_keys()
