from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Feedkeeper core"

    def ready(self) -> None:
        from core.api import schema  # noqa: F401 - registers the OpenAPI auth extension
