"""The vendor payloads built from a notification row."""

from __future__ import annotations

from django.utils import timezone

from notifications import formats
from notifications.models import Notification


def row(**kw: object) -> Notification:
    fields = {
        "event": "health.failing",
        "subject": "Target <ws> & co is failing",
        "text": "The health check of target <ws> fails.",
        "object_type": "target",
        "object_id": "3",
        "object_name": "ws",
        "object_url": "https://feedkeeper.example.com/targets/3/",
        "created_at": timezone.now(),
        **kw,
    }
    return Notification(**fields)


def test_slack_mrkdwn_escapes_its_control_characters() -> None:
    body = formats.slack_payload(row())["blocks"][1]["text"]["text"]
    assert "&lt;ws&gt;" in body and "<https://feedkeeper.example.com/targets/3/|Open ws>" in body


def test_a_legacy_teams_connector_gets_a_message_card() -> None:
    assert formats.is_legacy_teams("contoso.webhook.office.com") and not formats.is_legacy_teams("prod.logic.azure.com")
    card = formats.teams_legacy_payload(row())
    assert card["@type"] == "MessageCard" and card["title"].startswith("Target <ws>")
    assert card["potentialAction"][0]["targets"][0]["uri"] == "https://feedkeeper.example.com/targets/3/"


def test_a_link_that_is_only_a_path_is_left_out_of_vendor_messages() -> None:
    n = row(object_url="/targets/3/")
    assert "actions" not in formats.teams_payload(n)["attachments"][0]["content"]
    assert "|Open" not in formats.slack_payload(n)["blocks"][1]["text"]["text"]
    assert formats.webhook_payload(n)["object"]["url"] == "/targets/3/"
