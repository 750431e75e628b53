"""First-run set-up for `make run`: make sure an admin can log in, and say how."""

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create the first admin user if there is none, and print where and how to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="The dashboard's address, for the message.")

    def handle(self, *args: Any, url: str, **options: Any) -> None:
        User = get_user_model()
        url = url or f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}/"
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                f"Feedkeeper: log in at {url} with your admin account "
                "(forgot the password? `.venv/bin/python manage.py changepassword <username>`)."
            )
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        User.objects.create_superuser(username=username, email=email, password=password)
        shown = "(from DJANGO_SUPERUSER_PASSWORD)" if os.environ.get("DJANGO_SUPERUSER_PASSWORD") else password
        bar = "=" * 72
        self.stdout.write(
            f"{bar}\nFeedkeeper is set up. Log in at {url}\n  username: {username}\n  password: {shown}\n"
            "This password is shown once. Change it with "
            f"`.venv/bin/python manage.py changepassword {username}`.\n"
            "At the first login you set up an authenticator app (TOTP): admins sign in with a second factor.\n"
            f"{bar}"
        )
