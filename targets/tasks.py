"""Target tasks: thin, id-only wrappers around one service each. No secret is ever an argument or a result."""

from celery import shared_task

from targets import checks, pushing


@shared_task(name="targets.dispatch_pushes", ignore_result=True)
def dispatch_pushes(target_id: int) -> None:
    pushing.push_dispatch(target_id=target_id)


@shared_task(name="targets.run_push", acks_late=True, ignore_result=True)
def run_push(push_id: int) -> None:
    pushing.push_run(push_id=push_id)


@shared_task(name="targets.reconcile_pushes", ignore_result=True)
def reconcile_pushes() -> None:
    """Frequent (``PUSH_RECONCILE_EVERY_SECONDS``): recover pushes lost to dead workers or a restarted broker."""
    pushing.pushes_recover()


@shared_task(name="targets.cover_pushes", ignore_result=True)
def cover_pushes() -> None:
    """Rare (``PUSH_COVERAGE_EVERY_SECONDS``): one ``cover_target`` task per target with delivered deliveries."""
    pushing.pushes_cover()


@shared_task(name="targets.cover_target", ignore_result=True)
def cover_target(target_id: int) -> None:
    pushing.push_cover_target(target_id=target_id)


@shared_task(name="targets.reconcile_target_checks", ignore_result=True)
def reconcile_target_checks() -> None:
    checks.target_checks_reconcile()


@shared_task(name="targets.run_target_check", acks_late=True, ignore_result=True)
def run_target_check(check_id: int) -> None:
    checks.target_check_run(check_id=check_id)


@shared_task(name="targets.check_all_targets", ignore_result=True)
def check_all_targets() -> None:
    checks.targets_check_all(actor="scheduler")
