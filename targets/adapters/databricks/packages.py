"""The workspace default package repository (docs/platforms.md §1.5): the predefined scope
``databricks-package-management`` with keys ``pip-index-url``, ``pip-extra-index-urls`` and ``pip-cert``
(docs "Configure default Python package repositories").

``pip-extra-index-urls`` holds every extra index of the workspace: once a delivery uses it the key is Feedkeeper's,
composed from every ``extra`` delivery to the workspace (each feed's current URL, space-separated). ``pip-cert`` holds
the PEM bundle of the CAs behind the feeds: every ``workspace_default`` delivery's ``ca_bundle``, concatenated.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from targets.adapters.databricks.config import CERT_KEY, EXTRA_SEPARATOR, PACKAGE_SCOPE
from targets.adapters.databricks_api import DatabricksClient


def _package_deliveries(target: Any, **filters: Any) -> list[Any]:
    from targets.models import Delivery

    query = Delivery.objects.filter(target=target, mode="workspace_default", **filters)
    return list(query.select_related("feed__current_token").order_by("pk"))


def compose_value(target: Any, delivery: Any, value: str) -> str:
    """The value to put for ``delivery``: its own URL, or for ``pip-extra-index-urls`` every extra delivery's URL
    (this one's as given, the others' current ones) in delivery order, without repeats."""
    if delivery.mode != "workspace_default" or delivery.role != "extra":
        return value
    urls: list[str] = []
    for other in _package_deliveries(target, role="extra"):
        url = value if other.pk == delivery.pk else _current_url(other)
        if url and url not in urls:
            urls.append(url)
    if value not in urls:
        urls.append(value)
    return EXTRA_SEPARATOR.join(urls)


def _current_url(delivery: Any) -> str:
    try:
        return str(delivery.feed.credentialed_url())
    except ValueError:  # a feed without a token has nothing to contribute
        return ""


def cert_bundle(target: Any) -> str:
    """Every ``workspace_default`` delivery's CA bundle, each once, in delivery order ("" when none has one)."""
    bundles: list[str] = []
    for other in _package_deliveries(target):
        pem = str((other.config or {}).get("ca_bundle") or "").strip()
        if pem and pem not in bundles:
            bundles.append(pem)
    return "\n".join(bundles) + "\n" if bundles else ""


def put_cert(api: DatabricksClient, target: Any, delivery: Any) -> str | None:
    """Put the workspace's CA bundle in ``pip-cert`` when ``delivery`` carries one; returns a note or None."""
    if delivery.mode != "workspace_default" or not delivery.cfg.ca_bundle:
        return None
    bundle = cert_bundle(target)
    api.call("POST", "/api/2.0/secrets/put", json={"scope": PACKAGE_SCOPE, "key": CERT_KEY, "string_value": bundle})
    return f"CA bundle put in {PACKAGE_SCOPE}/{CERT_KEY}."


def clean_pem(text: str) -> str:
    """PEM certificates only (no key, nothing else); returned stripped with a final newline."""
    from cryptography import x509

    pem = str(text or "").strip()
    if not pem:
        return ""
    blocks = [line for line in pem.splitlines() if line.startswith("-----BEGIN ")]
    if not blocks or any(line.strip() != "-----BEGIN CERTIFICATE-----" for line in blocks):
        raise ValidationError({"ca_bundle": "Paste PEM certificates only (-----BEGIN CERTIFICATE----- blocks)."})
    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ValidationError({"ca_bundle": "Not valid PEM certificates."}) from None
    return pem + "\n"
