"""Feed tasks: thin wrappers that take ids and call one service. No secret is ever an argument."""

from celery import shared_task

from feeds import services


@shared_task(name="feeds.run_feed_check", acks_late=True, ignore_result=True)
def run_feed_check(check_id: int) -> None:
    services.feed_check_run(check_id=check_id)


@shared_task(name="feeds.check_all_feeds", ignore_result=True)
def check_all_feeds() -> None:
    services.feeds_check_all(actor="scheduler")


@shared_task(name="feeds.reconcile_checks", ignore_result=True)
def reconcile_checks() -> None:
    services.feed_checks_reconcile()


@shared_task(name="feeds.check_connection", ignore_result=True)
def check_connection(connection_id: int) -> None:
    from feeds.connections import connection_check_run

    connection_check_run(connection_id)
