from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The pages that bring the apps together (the overview, the user's API tokens) and the commands that act
    across them. Nothing below it imports it."""

    name = "dashboard"

    def ready(self) -> None:
        from dashboard import signals  # noqa: F401 - revokes API tokens when a password changes
