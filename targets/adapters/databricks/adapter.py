"""The Databricks adapter (docs/platforms.md §1).

Modes:
- ``workspace_default``: the workspace's default package repositories, i.e. the predefined secret scope
  ``databricks-package-management`` with key ``pip-index-url`` (role index) or ``pip-extra-index-urls`` (role
  extra; composed from every extra delivery, see :mod:`.packages`), readable by ``users``, and optionally ``pip-cert``.
- ``secret``: an own scope and key; optionally wire clusters (``spark_env_vars.<env_var> = {{secrets/s/k}}`` with
  ``clusters/update`` and a merged map; never clusters users cannot edit; a running cluster restarts only with
  consent; each cluster's owner, or the reader group, granted READ) and a cluster policy (see :mod:`.wiring`).

Verification never reads a secret back. ``secrets/list`` timestamps may have one-second precision (the simulator
rounds to seconds), so a put that landed in the same second as the one before leaves the timestamp where it was:
the put's success plus a listed timestamp not older than before the put prove it landed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError

from core import http
from targets.adapters.base import (
    Adapter,
    AdapterError,
    AuthSpec,
    HealthResult,
    MintedCredential,
    ModeSpec,
    Place,
    PushItem,
    PushResult,
    run_parallel,
)
from targets.adapters.databricks.config import (
    CLUSTER,
    ENV,
    ENV_VARS,
    GROUP,
    NAME,
    PACKAGE_KEYS,
    PACKAGE_SCOPE,
    DatabricksDelivery,
    DatabricksTarget,
)
from targets.adapters.databricks.packages import clean_pem, compose_value, put_cert
from targets.adapters.databricks.wiring import Wiring
from targets.adapters.databricks_api import DatabricksClient, DatabricksError
from targets.adapters.databricks_health import check_health

_WORKSPACE_DEFAULT_HELP = (
    "Feedkeeper owns the workspace's default repository keys it writes: pip-index-url (index), and "
    "pip-extra-index-urls (extra), which it composes from every extra delivery to this workspace, space-separated; "
    "an extra index set there by hand is overwritten. With a CA bundle it also writes pip-cert."
)


class DatabricksAdapter(Adapter):
    kind = "databricks"
    label = "Databricks workspace"
    url_help = "The workspace URL, e.g. https://adb-1234567890123456.7.azuredatabricks.net."
    auth = (
        AuthSpec("pat", "Personal access token", secret="token", secret_label="Token"),
        AuthSpec(
            "oauth_m2m",
            "OAuth M2M (service principal)",
            secret="client_secret",
            secret_label="Client secret",
            secret_help="The service principal's OAuth secret.",
            fields=("client_id",),
        ),
    )
    TargetConfig = DatabricksTarget
    DeliveryConfig = DatabricksDelivery
    modes = {
        "workspace_default": ModeSpec(
            "workspace_default",
            "Workspace default package repository",
            ("role", "ca_bundle"),
            help=_WORKSPACE_DEFAULT_HELP,
        ),
        "secret": ModeSpec(
            "secret",
            "Own secret (optionally wired to clusters / a policy)",
            ("scope", "key", "role", "clusters", "env_var", "policy_id", "reader_group"),
        ),
    }

    @classmethod
    def clean_target(cls, data: dict[str, Any]) -> dict[str, Any]:
        client_id = str(data.get("client_id") or "").strip()
        if data["auth_type"] == "oauth_m2m" and not client_id:
            raise ValidationError({"client_id": "Enter the service principal's application (client) id."})
        return {**data, "client_id": client_id if data["auth_type"] == "oauth_m2m" else ""}

    @classmethod
    def clean_delivery(cls, data: dict[str, Any]) -> dict[str, Any]:
        role = data.get("role", "index")
        clusters = data.get("clusters") or []
        if data["mode"] == "workspace_default":
            extra = [f for f in ("clusters", "env_var", "policy_id", "reader_group") if data.get(f)]
            if extra or (data.get("scope") and data["scope"] != PACKAGE_SCOPE):
                raise ValidationError({(extra or ["scope"])[0]: "Not used by the workspace_default mode."})
            key = PACKAGE_KEYS[role]
            return {
                "mode": "workspace_default",
                "role": role,
                "scope": PACKAGE_SCOPE,
                "key": key,
                "ca_bundle": clean_pem(data.get("ca_bundle") or ""),
                # The extra key holds every extra feed of the workspace (composed when pushed): one place per feed.
                "location": f"secret:{PACKAGE_SCOPE}/{key}"
                + (f"#feed-{data['feed']}" if role == "extra" and data.get("feed") else ""),
            }
        errors: dict[str, str] = {}
        if data.get("ca_bundle"):
            errors["ca_bundle"] = "Only the workspace_default mode writes pip-cert."
        scope, key = str(data.get("scope") or "").strip(), str(data.get("key") or "").strip()
        for field, value in (("scope", scope), ("key", key)):
            if not NAME.match(value):
                errors[field] = "Use 1-128 letters, digits, '-', '_', '.' or '@'."
        env_var = str(data.get("env_var") or ENV_VARS[role]).strip()
        if not ENV.match(env_var):
            errors["env_var"] = "Not a valid environment variable name."
        if not isinstance(clusters, list) or not all(isinstance(c, str) and CLUSTER.match(c) for c in clusters):
            errors["clusters"] = "A list of cluster ids."
        policy_id = str(data.get("policy_id") or "").strip()
        if policy_id and not CLUSTER.match(policy_id):
            errors["policy_id"] = "Not a valid policy id."
        reader_group = str(data.get("reader_group") or "").strip()
        if reader_group and not GROUP.match(reader_group):
            errors["reader_group"] = "Not a valid group name."
        if errors:
            raise ValidationError(errors)
        return {
            "mode": "secret",
            "role": role,
            "scope": scope,
            "key": key,
            "clusters": sorted(set(clusters)),
            "env_var": env_var,
            "policy_id": policy_id,
            "reader_group": reader_group,
            "location": f"secret:{scope.lower()}/{key.lower()}",
        }

    @classmethod
    def delivery_rows(cls, delivery: Any) -> list[tuple[str, Any]]:
        """The secret, and each wired cluster with its state after the last push."""
        cfg = delivery.cfg
        states = delivery.state.get("clusters") or {}
        rows: list[tuple[str, Any]] = [("Secret", f"{cfg.scope} / {cfg.key}")]
        if delivery.mode == "workspace_default" and cfg.ca_bundle:
            rows.append(("CA bundle", f"{cfg.ca_bundle.count('BEGIN CERTIFICATE')} certificate(s) in pip-cert"))
        if delivery.mode == "secret":
            rows.append(("Environment variable", cfg.env_var))
            if cfg.clusters:
                rows.append(("Clusters", "; ".join(f"{c} ({states[c]})" if c in states else c for c in cfg.clusters)))
            if cfg.reader_group:
                rows.append(("Reader group", cfg.reader_group))
            if cfg.policy_id:
                policy = delivery.state.get("policy")
                rows.append(("Cluster policy", f"{cfg.policy_id} ({policy})" if policy else cfg.policy_id))
        return rows

    @classmethod
    def places(cls, delivery: Any) -> list[Place]:
        """The secret; in ``workspace_default`` mode every cluster reads it at start; in ``secret`` mode each wired
        cluster and the policy. Clusters read secrets only when they start (docs/platforms.md §6)."""
        cfg, fp = delivery.cfg, delivery.delivered_fingerprint
        places = [Place(f"secret {cfg.scope}/{cfg.key}", fp)]
        if delivery.mode == "workspace_default":
            places.append(Place("every cluster of the workspace (workspace default package repository)", fp, True))
            return places
        states = delivery.state.get("clusters") or {}
        places += [Place(f"cluster {c} ({states.get(c, 'not wired yet')})", fp, True) for c in cfg.clusters]
        if cfg.policy_id:
            places.append(Place(f"cluster policy {cfg.policy_id}", fp, True))
        return places

    def old_value_readers(self, deliveries: list[Any]) -> list[str]:
        """Running clusters that read one of ``deliveries``' secrets and have not restarted since it was written."""
        from targets.adapters.databricks_health import stale_readers

        return stale_readers(self.client(), deliveries)

    def restart_old_value_readers(self, deliveries: list[Any]) -> list[str]:
        """Restart (``POST /api/2.1/clusters/restart``, REST reference "Restart cluster") every running cluster that
        still runs with an older value of ``deliveries``' secrets; one line per cluster, failures included."""
        from targets.adapters.databricks_health import stale_clusters

        api = self.client()
        done: list[str] = []
        labels: dict[str, list[str]] = {}
        for cluster_id, label in stale_clusters(api, deliveries):
            labels.setdefault(cluster_id, []).append(label)
        for cluster_id, names in labels.items():
            try:
                api.call("POST", "/api/2.1/clusters/restart", json={"cluster_id": cluster_id})
                done.append(f"restarted {names[0].split(' (')[0]} ({cluster_id})")
            except AdapterError as exc:
                done.append(f"could not restart {names[0].split(' (')[0]} ({cluster_id}): {exc}")
        return done

    @classmethod
    def may_restart(cls, delivery: Any) -> bool:
        """Wiring a running cluster restarts it."""
        return bool(delivery.cfg.clusters)

    # --- its own PAT (REST reference, Token API: token/create, token/list, token/delete) ----------------
    @classmethod
    def rotates_credential(cls, auth_type: str) -> bool:
        """A PAT can mint its successor; an OAuth secret is renewed hourly by the platform."""
        return auth_type == "pat"

    def credential_mint(self, *, lifetime_seconds: int, comment: str) -> MintedCredential:
        """``POST /api/2.0/token/create`` as the target's identity: the new PAT, its ``token_id`` and expiry
        (``expiry_time`` in ms; -1 means none)."""
        body = self.client().call(
            "POST", "/api/2.0/token/create", json={"lifetime_seconds": lifetime_seconds, "comment": comment}
        )
        info = body.get("token_info") or {}
        value, token_id = str(body.get("token_value") or ""), str(info.get("token_id") or "")
        if not value or not token_id:
            raise AdapterError("The workspace answered token/create without a token.", permanent=True)
        expiry = int(info.get("expiry_time") or -1)
        return MintedCredential(
            secret=value,
            credential_id=token_id,
            expires_at=datetime.fromtimestamp(expiry / 1000, tz=UTC) if expiry > 0 else None,
        )

    def credential_find(self, comment: str) -> list[str]:
        infos = self.client().call("GET", "/api/2.0/token/list").get("token_infos") or []
        return [str(t["token_id"]) for t in infos if t.get("comment") == comment and t.get("token_id")]

    def credential_test(self, secret: str) -> str:
        t = self.target
        api = DatabricksClient(url=t.url, auth_type="pat", secret=secret)
        me = api.call("GET", "/api/2.0/preview/scim/v2/Me")
        return f"The workspace accepts it (signed in as {me.get('userName') or me.get('displayName') or '?'})."

    def credential_revoke(self, credential_id: str) -> str:
        try:
            self.client().call("POST", "/api/2.0/token/delete", json={"token_id": credential_id})
        except DatabricksError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return f"Token {credential_id[:12]}… was already gone."
            raise
        return f"Deleted token {credential_id[:12]}… (token/delete)."

    # --- plumbing -------------------------------------------------------------------------------------
    def client(self) -> DatabricksClient:
        t = self.target
        return DatabricksClient(
            url=t.url, auth_type=t.auth_type, secret=t.reveal_credential(), client_id=t.cfg.client_id
        )

    def scope_timestamps(self, api: DatabricksClient, scope: str) -> dict[str, int] | None:
        """Every key of ``scope`` (lower-cased: keys are case-insensitive) with its ``last_updated_timestamp`` (ms,
        workspace clock); None when the scope does not exist."""
        try:
            body = api.call("GET", "/api/2.0/secrets/list", params={"scope": scope})
        except DatabricksError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        # An empty list may come back as {} (docs/platforms.md §1.3).
        return {
            str(item.get("key", "")).lower(): int(item.get("last_updated_timestamp") or 0)
            for item in body.get("secrets") or []
        }

    def secret_timestamp(self, api: DatabricksClient, scope: str, key: str) -> int | None:
        """The key's ``last_updated_timestamp`` (ms, workspace clock), None when absent. Keys are case-insensitive."""
        return (self.scope_timestamps(api, scope) or {}).get(key.lower())

    # --- contract -------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        try:
            meta = http.request("GET", f"{self.target.url}/.well-known/databricks-config")
            if meta.status_code == 200:
                info["workspace_id"] = str(meta.json().get("workspace_id", ""))
        except (http.TransportError, ValueError):
            pass
        return info

    def push(self, delivery: Any, value: str, *, restart_consent: bool) -> PushResult:
        api = self.client()
        scope = delivery.cfg.scope
        if delivery.delivered_remote_ts is None:
            self._ensure_scope(api, delivery)
        elif delivery.mode == "workspace_default":
            self._grant_users_read(api, scope)
        # The timestamp the put must not go below: the one our last verified push read, else read now.
        before = delivery.delivered_remote_ts
        if before is None:
            before = self.secret_timestamp(api, scope, delivery.cfg.key)
        self._put(api, delivery, value, created=delivery.delivered_remote_ts is None)
        result = PushResult(detail={"previous_ts": before})
        self._after_put(api, delivery, restart_consent, result)
        return result

    def push_many(self, items: list[PushItem], *, parallel: int) -> None:
        """A batch of one workspace: the puts in parallel (at most ``parallel`` calls at once), one
        ``secrets/list`` per scope after them, then the cluster and policy wiring of ``secret`` deliveries. The
        timestamp each key must not go below is the one our last verified push read back (``delivered_remote_ts``);
        only a scope with a delivery never delivered is created (and the package scope's ACL granted) and listed
        before. Once delivered: one call per scope and one per delivery, instead of three per delivery."""
        api = self.client()
        by_scope: dict[str, list[PushItem]] = {}
        for item in items:
            by_scope.setdefault(item.delivery.cfg.scope, []).append(item)
        before: dict[str, dict[str, int] | None] = {}

        def fresh(group: list[PushItem]) -> bool:
            return any(i.delivery.delivered_remote_ts is None for i in group)

        for scope, group in by_scope.items():
            if not fresh(group):  # no call: the timestamps we know
                known = ((i.delivery.cfg.key.lower(), i.delivery.delivered_remote_ts) for i in group)
                before[scope] = {key: ts for key, ts in known if ts is not None}

        def prepare(scope: str, group: list[PushItem]) -> None:
            if fresh(group):
                self._ensure_scope(api, group[0].delivery)
                before[scope] = self.scope_timestamps(api, scope)
            else:
                self._grant_users_read(api, scope)

        calling = {s: g for s, g in by_scope.items() if fresh(g) or g[0].delivery.mode == "workspace_default"}
        self._per_scope(calling, prepare, parallel)

        def put(item: PushItem) -> None:
            self._put(api, item.delivery, item.value, created=False)
            item.result = PushResult()

        run_parallel(put, [i for i in items if i.error is None], parallel)
        after: dict[str, dict[str, int] | None] = {}

        def read_back(scope: str, group: list[PushItem]) -> None:
            after[scope] = self.scope_timestamps(api, scope)

        put_ok = {s: [i for i in g if i.error is None] for s, g in by_scope.items()}
        self._per_scope({s: g for s, g in put_ok.items() if g}, read_back, parallel)
        for item in (i for i in items if i.error is None and i.result is not None):
            d = item.delivery
            key = d.cfg.key.lower()
            was = (before.get(d.cfg.scope) or {}).get(key)
            now = (after.get(d.cfg.scope) or {}).get(key)
            try:
                item.result = self._check_landed(d, PushResult(detail={"previous_ts": was}), now)
                self._after_put(api, d, item.restart_consent, item.result)
            except AdapterError as exc:
                item.result, item.error = None, exc

    def _put(self, api: DatabricksClient, delivery: Any, value: str, *, created: bool) -> None:
        """Put the delivery's value (for ``pip-extra-index-urls``, every extra feed's URL); a scope deleted since
        it was last seen is created again once."""
        value = compose_value(self.target, delivery, value)
        for url in value.split():
            api.add_secret(url)
        body = {"scope": delivery.cfg.scope, "key": delivery.cfg.key, "string_value": value}
        try:
            api.call("POST", "/api/2.0/secrets/put", json=body)
        except DatabricksError as exc:
            if exc.code != "RESOURCE_DOES_NOT_EXIST" or created:
                raise
            self._ensure_scope(api, delivery)
            api.call("POST", "/api/2.0/secrets/put", json=body)

    def _after_put(self, api: DatabricksClient, delivery: Any, consent: bool, result: PushResult) -> None:
        """What follows a landed put: ``pip-cert`` for the package scope, cluster and policy wiring for ``secret``."""
        note = put_cert(api, self.target, delivery)
        if note:
            result.notes.append(note)
        if delivery.mode == "secret":
            wiring = Wiring(api, delivery, consent, result)
            wiring.clusters()
            if delivery.cfg.policy_id:
                wiring.policy()

    @staticmethod
    def _per_scope(
        groups: dict[str, list[PushItem]], work: Callable[[str, list[PushItem]], None], parallel: int
    ) -> None:
        """``work(scope, items)`` for each scope, at most ``parallel`` at once; a failure fails that scope's
        items (and only them)."""

        def fail(scope: str, error: AdapterError) -> None:
            for item in groups[scope]:
                item.error = error

        run_parallel(lambda scope: work(scope, groups[scope]), list(groups), parallel, fail=fail)

    def _ensure_scope(self, api: DatabricksClient, delivery: Any) -> None:
        """Create the scope (an existing one is success) and, for the package scope, grant ``users`` READ."""
        try:
            api.call("POST", "/api/2.0/secrets/scopes/create", json={"scope": delivery.cfg.scope})
        except DatabricksError as exc:
            if exc.code != "RESOURCE_ALREADY_EXISTS":
                raise
        if delivery.mode == "workspace_default":
            self._grant_users_read(api, delivery.cfg.scope)

    def _grant_users_read(self, api: DatabricksClient, scope: str) -> None:
        # Every user's compute must read the URL, and no user may change it (docs, default repositories).
        try:
            api.call(
                "POST", "/api/2.0/secrets/acls/put", json={"scope": scope, "principal": "users", "permission": "READ"}
            )
        except DatabricksError as exc:
            if exc.code != "RESOURCE_ALREADY_EXISTS":
                raise

    def verify(self, delivery: Any, result: PushResult) -> PushResult:
        api = self.client()
        return self._check_landed(delivery, result, self.secret_timestamp(api, delivery.cfg.scope, delivery.cfg.key))

    def _check_landed(self, delivery: Any, result: PushResult, after: int | None) -> PushResult:
        """The put was answered with success (else we would not be here); the key is listed with a timestamp not
        older than before the put (both the workspace's clock). Equal is fine: timestamps may have one-second
        precision (REST reference "List secret keys" gives ms, its example a whole second)."""
        before = result.detail.pop("previous_ts", None)
        if after is None:
            raise AdapterError(
                f"Verification failed: {delivery.cfg.scope}/{delivery.cfg.key} is not in the workspace after the put.",
                permanent=False,
            )
        if before is not None and after < before:
            raise AdapterError(
                f"Verification failed: {delivery.cfg.scope}/{delivery.cfg.key} lists an older timestamp after the "
                f"put ({after}) than before it ({before}).",
                permanent=False,
            )
        result.remote_ts = after
        return result

    def needs_push(self, delivery: Any) -> bool:
        """A cluster left for its next restart can be wired once it is terminated."""
        waiting = [
            c for c, s in (delivery.state.get("clusters") or {}).items() if s in ("wired on next restart", "waiting")
        ]
        if not waiting:
            return False
        api = self.client()
        for cluster_id in waiting:
            try:
                cluster = api.call("GET", "/api/2.1/clusters/get", params={"cluster_id": cluster_id})
            except DatabricksError:
                continue
            if cluster.get("state") == "TERMINATED":
                return True
        return False

    def check_health(self, deliveries: list[Any]) -> list[HealthResult]:
        return check_health(self, deliveries)

    def scan(self) -> list[Any]:
        """Clusters, libraries, policies and job clusters (see :mod:`targets.adapters.databricks_scan`)."""
        from targets.adapters.databricks_scan import scan_workspace

        return scan_workspace(self.client())
