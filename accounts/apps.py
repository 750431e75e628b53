from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Signing in and staying safe: lockouts, the second factor, idle sessions, one's own sessions and password."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib import admin

        from accounts import signals  # noqa: F401  (connects the receivers)

        # /admin/ is for superusers only: a role (even admin) does not open it.
        admin.site.has_permission = lambda request: bool(  # type: ignore[method-assign]
            request.user.is_active and request.user.is_superuser
        )
