from django.apps import AppConfig


class TargetsConfig(AppConfig):
    name = "targets"

    def ready(self) -> None:
        from targets import feed_hooks

        feed_hooks.register()
