"""The message each kind of channel receives, built from a notification row. Texts never hold a secret (the rows
are built from names, fingerprints and dates), so these only shape them."""

from __future__ import annotations

from typing import Any

from notifications.models import Notification


def webhook_payload(n: Notification) -> dict[str, Any]:
    """Feedkeeper's own JSON (the API contract): ``{"event", "subject", "text", "at", "object": {"type", "id",
    "name", "url"}}``; ``at`` is when the cause happened (the row's creation), ISO 8601 with zone."""
    return {
        "event": n.event,
        "subject": n.subject,
        "text": n.text,
        "at": n.created_at.isoformat(),
        "object": {"type": n.object_type, "id": n.object_id, "name": n.object_name, "url": n.object_url},
    }


def _link(n: Notification) -> str | None:
    return n.object_url if n.object_url.startswith(("https://", "http://")) else None


def slack_payload(n: Notification) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (the fallback shown in notifications) plus Block Kit ``blocks``
    (a header and a mrkdwn section). Slack answers ``200 ok`` (api.slack.com/messaging/webhooks; Block Kit:
    api.slack.com/reference/block-kit/blocks). Slack's mrkdwn treats ``&``, ``<`` and ``>`` as control characters,
    so they are escaped (api.slack.com/reference/surfaces/formatting#escaping)."""

    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    body = esc(n.text)
    link = _link(n)
    if link:
        body += f"\n<{esc(link)}|Open {esc(n.object_name or 'in Feedkeeper')}>"
    return {
        "text": f"{n.subject}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": n.subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Feedkeeper · `{n.event}`"}]},
        ],
    }


def teams_payload(n: Notification) -> dict[str, Any]:
    """A Microsoft Teams message for a Workflows (Power Automate "When a Teams webhook request is received")
    webhook: a ``message`` with one Adaptive Card attachment (learn.microsoft.com/en-us/microsoftteams/platform/
    webhooks-and-connectors/how-to/add-incoming-webhook, "Send Adaptive Cards using an Incoming Webhook"; card
    schema 1.4, adaptivecards.io/explorer)."""
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": n.subject, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": n.text, "wrap": True},
            {"type": "TextBlock", "text": f"Feedkeeper · {n.event}", "isSubtle": True, "size": "Small"},
        ],
    }
    link = _link(n)
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in Feedkeeper", "url": link}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def teams_legacy_payload(n: Notification) -> dict[str, Any]:
    """The legacy Office 365 connector's MessageCard (``…webhook.office.com/webhookb2/…`` URLs), which Microsoft
    is retiring in favour of Workflows
    (learn.microsoft.com/en-us/outlook/actionable-messages/message-card-reference)."""
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": n.subject,
        "title": n.subject,
        "text": n.text,
    }
    link = _link(n)
    if link:
        card["potentialAction"] = [
            {"@type": "OpenUri", "name": "Open in Feedkeeper", "targets": [{"os": "default", "uri": link}]}
        ]
    return card


def is_legacy_teams(host: str) -> bool:
    return host == "outlook.office.com" or host.endswith(".webhook.office.com")
