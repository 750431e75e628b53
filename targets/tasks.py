"""Target tasks: thin, id-only wrappers around one service each. No secret is ever an argument or a result."""

from celery import shared_task

from targets import pushing, services


@shared_task(name="targets.dispatch_pushes", ignore_result=True)
def dispatch_pushes(target_id: int) -> None:
    pushing.push_dispatch(target_id=target_id)


@shared_task(name="targets.run_push", acks_late=True, ignore_result=True)
def run_push(push_id: int) -> None:
    pushing.push_run(push_id=push_id)


@shared_task(name="targets.reconcile_pushes", ignore_result=True)
def reconcile_pushes() -> None:
    pushing.pushes_reconcile()
    services.target_checks_reconcile()


@shared_task(name="targets.run_target_check", acks_late=True, ignore_result=True)
def run_target_check(check_id: int) -> None:
    services.target_check_run(check_id=check_id)


@shared_task(name="targets.check_all_targets", ignore_result=True)
def check_all_targets() -> None:
    services.targets_check_all(actor="scheduler")
