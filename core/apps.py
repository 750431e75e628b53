from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Feedkeeper core"

    def ready(self) -> None:
        from core import http, keycheck  # noqa: F401 - register the CA_BUNDLE and key checks
        from core.api import schema  # noqa: F401 - registers the OpenAPI auth extension
        from core.redaction import install_redaction

        install_redaction()  # Django's and the libraries' handlers too
