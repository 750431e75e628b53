"""Health checks of a GitHub target: the token (``GET /user``) and its expiry when GitHub reports it (the
``github-authentication-token-expiration`` header), rate limit headroom (``x-ratelimit-remaining`` of
``x-ratelimit-limit``), the organization, and per delivery each secret present and not changed since Feedkeeper
put it (``updated_at``; values are never readable), with the chosen repositories of a ``selected`` secret; and
whether each feed accepts its token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from targets.adapters.base import AdapterError, HealthResult
from targets.adapters.common import FAILING, OK, WARNING, feed_checks
from targets.adapters.github.adapter import github_ms

if TYPE_CHECKING:
    from targets.adapters.github.adapter import GitHubAdapter
    from targets.adapters.github.client import GitHubClient

EXPIRY_WARNING_DAYS = 14
RATE_WARNING_SHARE = 0.1


def _token_expiry(value: str | None) -> HealthResult | None:
    """GitHub writes ``2026-12-31 00:00:00 UTC`` (or with a numeric zone)."""
    if not value:
        return None
    text = value.strip()
    parsed = None
    for fmt in ("%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S %z"):
        try:
            parsed = datetime.strptime(text, fmt)
            break
        except ValueError:
            continue
    if parsed is None:
        return HealthResult("token expiry", WARNING, f"GitHub reports an expiry Feedkeeper cannot read: {text}.")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    days = (parsed - datetime.now(UTC)).total_seconds() / 86400
    if days <= 0:
        return HealthResult(
            "token expiry", FAILING, f"The token expired on {parsed:%Y-%m-%d}.", credential_expires_at=parsed
        )
    status = WARNING if days <= EXPIRY_WARNING_DAYS else OK
    return HealthResult(
        "token expiry",
        status,
        f"The token expires on {parsed:%Y-%m-%d} (in {int(days)} days).",
        credential_expires_at=parsed,
    )


def _rate_limit(api: GitHubClient) -> HealthResult | None:
    remaining, limit = api.last_headers.get("x-ratelimit-remaining"), api.last_headers.get("x-ratelimit-limit")
    if remaining is None or limit is None:
        return None
    try:
        left, total = int(remaining), int(limit)
    except ValueError:
        return None
    status = WARNING if total and left < total * RATE_WARNING_SHARE else OK
    return HealthResult("rate limit", status, f"{left} of {total} requests left in this window.")


def check_health(adapter: GitHubAdapter, deliveries: list[Any]) -> list[HealthResult]:
    api = adapter.client()
    try:
        me = api.me()
    except AdapterError as exc:
        return [HealthResult("authentication", FAILING, str(exc)), *feed_checks(deliveries)]
    results = [HealthResult("authentication", OK, f"Signed in as {me.get('login') or '?'}.")]
    for extra in (_token_expiry(api.last_headers.get("github-authentication-token-expiration")), _rate_limit(api)):
        if extra is not None:
            results.append(extra)
    try:
        org = api.organization(adapter.org)
    except AdapterError as exc:
        return [*results, HealthResult("organization", FAILING, str(exc)), *feed_checks(deliveries)]
    results.append(HealthResult("organization", OK, f"{org.get('login')} (id {org.get('id')})."))
    for delivery in deliveries:
        try:
            results.extend(_delivery_checks(adapter, api, delivery))
        except AdapterError as exc:
            results.append(HealthResult(f"{delivery.cfg.variable} ({delivery.location})", FAILING, str(exc)))
    results.extend(feed_checks(deliveries))
    return results


def _delivery_checks(adapter: GitHubAdapter, api: GitHubClient, delivery: Any) -> list[HealthResult]:
    name = delivery.cfg.variable
    out = []
    for place, base in adapter._bases(delivery):
        label = f"secret {name} in {place}"
        meta = api.secret(base, name)
        if meta is None:
            out.append(HealthResult(label, FAILING, "Missing: push the delivery again."))
            continue
        updated = github_ms(meta.get("updated_at"))
        delivered = delivery.delivered_remote_ts
        if delivered is None:
            out.append(HealthResult(label, WARNING, "Present, but Feedkeeper has not delivered it yet."))
        elif updated is not None and updated > delivered:
            out.append(
                HealthResult(label, WARNING, f"Changed outside Feedkeeper at {meta.get('updated_at')}: push again.")
            )
        elif delivery.delivered_fingerprint != delivery.feed.fingerprint:
            out.append(HealthResult(label, WARNING, "Holds an older token of the feed: push again."))
        else:
            out.append(HealthResult(label, OK, f"Present, updated {meta.get('updated_at')}, current token."))
    if delivery.mode == "actions_org_secret" and delivery.cfg.visibility == "selected":
        have = sorted(str(r.get("name", "")).lower() for r in api.selected_repositories(adapter.org, name))
        wanted = sorted(delivery.cfg.repositories)
        status = OK if have == wanted else WARNING
        out.append(HealthResult(f"secret {name} repositories", status, f"Shared with: {', '.join(have) or 'none'}."))
    return out
