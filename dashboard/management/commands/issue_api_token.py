"""Issue an API token for a user; the token is the last line of the output, shown only this once."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import ApiToken
from dashboard.services import api_token_issue


class Command(BaseCommand):
    help = "Issue an API token for USERNAME and print it (last line). Only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the token (default: cli).")
        parser.add_argument(
            "--days", type=int, default=None, help="Days until it expires (default: API_TOKEN_DEFAULT_DAYS)."
        )
        parser.add_argument("--read-only", action="store_true", help="The token may only read, whatever the role.")

    def handle(self, *args: Any, username: str, name: str, days: int | None, read_only: bool, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is not active.")
        try:
            token, raw = api_token_issue(
                actor="cli",
                user=user,
                name=name,
                expires_in_days=days,
                scope=ApiToken.Scope.READ if read_only else ApiToken.Scope.FULL,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        scope = "read-only" if token.read_only else "acting with the user's role"
        expires = token.expires_at.strftime("%Y-%m-%d %H:%M %Z") if token.expires_at else "never"
        self.stdout.write(
            f"Issued API token {name!r} for {username} ({scope}, expires {expires}). "
            "Store it now; it is not shown again:"
        )
        self.stdout.write(raw)
