from django.apps import AppConfig


class FindingsConfig(AppConfig):
    name = "findings"
    verbose_name = "Findings"

    def ready(self) -> None:
        from core.api.views import register_check_kind
        from findings.api import ScanRunSerializer
        from findings.models import ScanRun
        from findings.receivers import scan_after_health_check
        from targets import signals

        register_check_kind(ScanRun.KIND, ScanRun, ScanRunSerializer)
        signals.health_checked.connect(scan_after_health_check, dispatch_uid="findings.scan_after_health")
