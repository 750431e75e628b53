"""Notification tasks: thin, id-only wrappers around one service each. No secret is ever an argument or a result."""

from celery import shared_task

from notifications import digest, sending, services


@shared_task(name="notifications.deliver", acks_late=True, ignore_result=True)
def deliver_notification(notification_id: int) -> None:
    sending.notification_deliver(notification_id=notification_id)


@shared_task(name="notifications.sweep", ignore_result=True)
def sweep_notifications() -> None:
    """Frequent: hand over pending notifications whose message was lost, whose retry is due, or whose worker
    died holding them."""
    for notification_id in sending.notifications_sweep():
        deliver_notification.delay(notification_id)


@shared_task(name="notifications.evaluate_expiry", ignore_result=True)
def evaluate_expiry() -> None:
    """Hourly: tell about tokens and credentials that crossed an expiry threshold since the last run."""
    services.expiry_sweep()


@shared_task(name="notifications.send_digests", ignore_result=True)
def send_digests() -> None:
    """Daily: the digest e-mails."""
    digest.digests_send()
