"""Health checks of a Databricks workspace (docs/platforms.md §1.7, §1.8).

Each check is one :class:`HealthResult`: can we authenticate (SCIM Me); when our own PAT expires (token/list);
each delivery's secret present and current, or drifted (written after our push by someone else); the package scope
readable by ``users``; wired clusters still referencing our secret; running clusters that started before the
secret changed ("needs restart": compare the cluster's last restart or driver state loss with the secret's time, both
the workspace's clock); and
whether the feed itself accepts the token (its latest credential check).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings

from targets.adapters.base import AdapterError, HealthResult, map_parallel
from targets.adapters.common import FAILING, OK, WARNING, feed_checks
from targets.adapters.databricks.config import NON_EDITABLE_SOURCES

if TYPE_CHECKING:
    from targets.adapters.databricks import DatabricksAdapter
    from targets.adapters.databricks_api import DatabricksClient

_DAY_MS = 86_400_000


def check_health(adapter: DatabricksAdapter, deliveries: list[Any]) -> list[HealthResult]:
    api = adapter.client()
    results: list[HealthResult] = []
    try:
        me = api.call("GET", "/api/2.0/preview/scim/v2/Me")
    except AdapterError as exc:
        return [HealthResult("authentication", FAILING, str(exc))]
    groups = {str(g.get("display", "")) for g in me.get("groups") or []}
    who = me.get("userName") or me.get("displayName") or "?"
    results.append(
        HealthResult("authentication", OK, f"Signed in as {who}" + (" (admin)" if "admins" in groups else ""))
    )
    # Signed in, the other checks are independent of one another: at most the target's cap of calls at once.
    jobs: list[Callable[[], list[HealthResult]]] = [lambda: [_token_expiry(adapter, api)]]
    jobs += [functools.partial(_delivery_checks, adapter, api, d) for d in deliveries]
    if any(d.mode == "workspace_default" for d in deliveries):
        jobs.append(lambda: [_package_scope_acl(api)])
    jobs.append(lambda: _needs_restart(api, deliveries))
    for found in map_parallel(jobs, max(1, adapter.target.max_concurrency)):
        results.extend(found)
    results.extend(feed_checks(deliveries))
    return results


def _token_expiry(adapter: DatabricksAdapter, api: DatabricksClient) -> HealthResult:
    if adapter.target.auth_type == "oauth_m2m":
        return HealthResult("credential expiry", OK, "OAuth M2M: access tokens are renewed hourly.")
    try:
        infos = api.call("GET", "/api/2.0/token/list").get("token_infos") or []
    except AdapterError as exc:
        return HealthResult("credential expiry", WARNING, f"Not visible: {exc}")
    if not infos:
        return HealthResult("credential expiry", WARNING, "token/list shows no token for this identity.")
    # token/list shows every token of the identity and does not say which one authenticated the call (REST
    # reference "List all tokens": "Lists all the valid tokens for a user-workspace pair"). A token Feedkeeper
    # minted itself is known by its id; otherwise the identity's only token is ours, and with several the soonest
    # expiry is shown (but not stored as the credential's: it may be another token's).
    own_id = str((adapter.target.info or {}).get("credential_id") or "")
    own = [t for t in infos if own_id and str(t.get("token_id")) == own_id]
    if own or len(infos) == 1:
        expiry = int((own or infos)[0].get("expiry_time") or -1)
        if expiry <= 0:
            return HealthResult("credential expiry", OK, "Feedkeeper's token does not expire.")
        when = datetime.fromtimestamp(expiry / 1000, tz=UTC)
        return HealthResult(
            "credential expiry",
            _expiry_status(when),
            f"Feedkeeper's token expires {when:%Y-%m-%d} ({(when - datetime.now(tz=UTC)).days} days).",
            credential_expires_at=when,
        )
    expiring = sorted(int(t["expiry_time"]) for t in infos if int(t.get("expiry_time", -1)) > 0)
    count = f"{len(infos)} tokens"
    if not expiring:
        return HealthResult("credential expiry", OK, f"None of the identity's {count} expires.")
    when = datetime.fromtimestamp(expiring[0] / 1000, tz=UTC)
    days = (when - datetime.now(tz=UTC)).days
    detail = (
        f"The identity's soonest-expiring token expires {when:%Y-%m-%d} ({days} days). token/list shows every "
        f"token of the identity ({count}) and not which one Feedkeeper uses, so this is the identity's soonest."
    )
    return HealthResult("credential expiry", _expiry_status(when), detail)


def _expiry_status(when: datetime) -> str:
    days = (when - datetime.now(tz=UTC)).days
    return OK if days > settings.EXPIRY_WARNING_DAYS else (WARNING if days >= 0 else FAILING)


def _delivery_checks(adapter: DatabricksAdapter, api: DatabricksClient, delivery: Any) -> list[HealthResult]:
    name = f"secret {delivery.cfg.scope}/{delivery.cfg.key}"
    try:
        ts = adapter.secret_timestamp(api, delivery.cfg.scope, delivery.cfg.key)
    except AdapterError as exc:
        return [HealthResult(name, FAILING, str(exc))]
    out: list[HealthResult] = []
    if ts is None:
        out.append(HealthResult(name, FAILING, "Missing from the workspace."))
    elif delivery.delivered_remote_ts is None:
        out.append(HealthResult(name, WARNING, "Present, but Feedkeeper has not delivered it yet."))
    elif ts > delivery.delivered_remote_ts:
        out.append(HealthResult(name, WARNING, "Drift: written after Feedkeeper's last push by someone else."))
    elif not delivery.is_current():
        out.append(HealthResult(name, WARNING, "Stale: the feed's token changed since the last push."))
    else:
        out.append(HealthResult(name, OK, f"Present and current ({delivery.delivered_fingerprint})."))
    if delivery.mode == "secret":
        out.extend(_wired_clusters(api, delivery))
    return out


def _wired_clusters(api: DatabricksClient, delivery: Any) -> list[HealthResult]:
    from targets.adapters.databricks import reference

    ref = reference(delivery.cfg.scope, delivery.cfg.key)
    states = delivery.state.get("clusters") or {}
    out = []
    for cluster_id in delivery.cfg.clusters:
        name = f"cluster {cluster_id}"
        try:
            cluster = api.call("GET", "/api/2.1/clusters/get", params={"cluster_id": cluster_id})
        except AdapterError as exc:
            out.append(HealthResult(name, FAILING, f"Cannot read it: {exc}"))
            continue
        label = f"cluster {cluster.get('cluster_name') or cluster_id}"
        env = cluster.get("spark_env_vars") or {}
        if env.get(delivery.cfg.env_var) == ref:
            out.append(HealthResult(label, OK, f"{delivery.cfg.env_var} references {ref}."))
        elif str(states.get(cluster_id, "")).startswith("skipped"):
            out.append(HealthResult(label, WARNING, f"Not wired: {states[cluster_id]}."))
        elif states.get(cluster_id) in ("wired on next restart", "waiting"):
            out.append(
                HealthResult(
                    label,
                    WARNING,
                    "Not wired yet: it was running; wired once it is terminated or pushed with restart consent.",
                )
            )
        else:
            out.append(HealthResult(label, FAILING, f"{delivery.cfg.env_var} no longer references {ref}."))
    return out


def _package_scope_acl(api: DatabricksClient) -> HealthResult:
    from targets.adapters.databricks import PACKAGE_SCOPE

    name = "package scope readable by users"
    try:
        acl = api.call("GET", "/api/2.0/secrets/acls/get", params={"scope": PACKAGE_SCOPE, "principal": "users"})
    except AdapterError as exc:
        return HealthResult(name, FAILING, f"users cannot read {PACKAGE_SCOPE}: {exc}")
    permission = acl.get("permission")
    if permission in ("READ", "WRITE", "MANAGE"):
        status = OK if permission == "READ" else WARNING
        extra = "" if permission == "READ" else " (more than READ: users could change it)"
        detail = f"users have {permission}{extra}"
        return HealthResult(name, status, detail + ".")
    return HealthResult(name, FAILING, f"users have no permission on {PACKAGE_SCOPE}.")


def _running_clusters(api: DatabricksClient) -> list[dict[str, Any]]:
    clusters: list[dict[str, Any]] = []
    token = None
    for _ in range(50):
        params: dict[str, Any] = {"page_size": 100, "filter_by.cluster_states": "RUNNING"}
        if token:
            params["page_token"] = token
        body = api.call("GET", "/api/2.1/clusters/list", params=params)
        clusters.extend(body.get("clusters") or [])
        token = body.get("next_page_token")
        if not token:
            break
    # Clusters users cannot edit (job, pipeline, SQL, model serving) are never flagged: nobody can restart them.
    return [c for c in clusters if c.get("state") == "RUNNING" and c.get("cluster_source") not in NON_EDITABLE_SOURCES]


def restarted_at(cluster: dict[str, Any]) -> int | None:
    """When the cluster's driver last (re)started and re-read its environment: the later of
    ``last_restarted_time`` and ``last_state_loss_time`` (a driver restart). ``start_time`` is the creation time
    (SDK ``ClusterDetails``: "when the cluster creation request was received"), so it is not used. None when the
    cluster reports neither."""
    times = [int(cluster[k]) for k in ("last_restarted_time", "last_state_loss_time") if cluster.get(k)]
    return max(times) if times else None


def stale_readers(api: DatabricksClient, deliveries: list[Any]) -> list[str]:
    """``"<cluster> (<scope>/<key>)"`` for each running cluster that reads one of ``deliveries``' secrets and has
    not restarted since the secret was written (or cannot tell). Raises :class:`AdapterError`."""
    return sorted(label for _, label in stale_clusters(api, deliveries))


def stale_clusters(api: DatabricksClient, deliveries: list[Any]) -> list[tuple[str, str]]:
    """``(cluster_id, "<cluster> (<scope>/<key>)")`` for each running cluster that reads one of ``deliveries``'
    secrets and has not restarted since the secret was written (or cannot tell). Raises :class:`AdapterError`."""
    delivered = [d for d in deliveries if d.delivered_remote_ts]
    if not delivered:
        return []
    stale: list[tuple[str, str]] = []
    for cluster in _running_clusters(api):
        name = str(cluster.get("cluster_name") or cluster.get("cluster_id"))
        reading = [d for d in delivered if d.mode == "workspace_default" or cluster.get("cluster_id") in d.cfg.clusters]
        started = restarted_at(cluster)
        stale.extend(
            (str(cluster.get("cluster_id")), f"{name} ({d.cfg.scope}/{d.cfg.key})")
            for d in reading
            if started is None or started < int(d.delivered_remote_ts)
        )
    return stale


def _needs_restart(api: DatabricksClient, deliveries: list[Any]) -> list[HealthResult]:
    """Running clusters whose last (re)start is older than a secret they read still hold the old token."""
    delivered = [d for d in deliveries if d.delivered_remote_ts]
    if not delivered:
        return []
    try:
        running = _running_clusters(api)
    except AdapterError as exc:
        return [HealthResult("clusters needing restart", WARNING, f"Cannot list clusters: {exc}")]
    stale: list[str] = []
    unknown: list[str] = []
    for cluster in running:
        name = str(cluster.get("cluster_name") or cluster.get("cluster_id"))
        reading = [d for d in delivered if d.mode == "workspace_default" or cluster.get("cluster_id") in d.cfg.clusters]
        if not reading:
            continue
        started = restarted_at(cluster)
        if started is None:
            unknown.append(name)
            continue
        stale.extend(f"{name} ({d.cfg.scope}/{d.cfg.key})" for d in reading if started < int(d.delivered_remote_ts))
    details = []
    if stale:
        details.append("Still running with the previous token until restarted: " + ", ".join(sorted(stale)) + ".")
    if unknown:
        details.append(
            "Cannot tell whether these read the current value: they report neither last_restarted_time nor "
            "last_state_loss_time: " + ", ".join(sorted(unknown)) + "."
        )
    if details:
        return [HealthResult("clusters needing restart", WARNING, " ".join(details))]
    return [HealthResult("clusters needing restart", OK, f"{len(running)} running clusters read the current value.")]
