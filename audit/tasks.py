"""Audit tasks (run by beat): seal what the on-commit seal missed and verify the new part of the chain, verify the
whole chain, prune past the retention."""

from celery import shared_task

from audit import chain


@shared_task(name="audit.seal", ignore_result=True)
def seal() -> None:
    """Every minute: seal, then verify incrementally from where the last intact verification stopped."""
    chain.audit_verify(incremental=True)


@shared_task(name="audit.verify", ignore_result=True)
def verify() -> None:
    """Hourly: verify the whole chain from the latest anchor (the page's badge shows the result)."""
    chain.audit_verify()


@shared_task(name="audit.prune", ignore_result=True)
def prune() -> None:
    """Daily: delete events older than ``AUDIT_RETENTION_DAYS`` (0 keeps everything), recording an anchor."""
    chain.audit_prune()
