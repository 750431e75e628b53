"""Databricks workspaces (docs/platforms.md §1).

Modes:
- ``workspace_default``: the workspace's default package repositories, i.e. the predefined secret scope
  ``databricks-package-management`` with key ``pip-index-url`` (role index) or ``pip-extra-index-urls`` (role
  extra), readable by ``users`` (docs: "Configure default Python package repositories").
- ``secret``: an own scope and key; optionally wire clusters (``spark_env_vars.<env_var> = {{secrets/s/k}}`` with
  ``clusters/update`` and a merged map; never job clusters; a running cluster restarts only with consent) and a
  cluster policy (``spark_env_vars.<env_var>`` fixed to the reference).

Verification never reads a secret back: ``secrets/list`` must show the key with a ``last_updated_timestamp``
later than the one before our put (both the workspace's clock).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from core import http
from targets.adapters.base import (
    Adapter,
    AdapterError,
    AuthSpec,
    HealthResult,
    ModeSpec,
    PushItem,
    PushResult,
    run_parallel,
    setting,
)
from targets.adapters.databricks_api import DatabricksClient, DatabricksError
from targets.adapters.databricks_health import check_health

PACKAGE_SCOPE = "databricks-package-management"
PACKAGE_KEYS = {"index": "pip-index-url", "extra": "pip-extra-index-urls"}
ENV_VARS = {"index": "DATABRICKS_PIP_INDEX_URL", "extra": "DATABRICKS_PIP_EXTRA_INDEX_URL"}
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_CLUSTER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MIN_DBR = (15, 1)


def reference(scope: str, key: str) -> str:
    return "{{secrets/" + scope + "/" + key + "}}"


def dbr_version(spark_version: str) -> tuple[int, int] | None:
    match = re.match(r"^(\d+)\.(\d+)", spark_version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass(frozen=True)
class DatabricksTarget:
    client_id: str = setting(
        "Client id", help="OAuth M2M: the service principal's application (client) id.", max_length=200
    )


@dataclass(frozen=True)
class DatabricksDelivery:
    scope: str = setting("Secret scope", help="The secret scope; created if missing.")
    key: str = setting("Secret key", help="The secret's key in the scope.")
    clusters: list[str] = setting(
        "Clusters",
        help="Cluster ids to wire, separated by commas or spaces (optional). Job clusters are never edited.",
        many=True,
        max_length=64,
        max_items=200,
    )
    env_var: str = setting(
        "Environment variable",
        help="Set on the clusters. Empty: DATABRICKS_PIP_INDEX_URL (index) or DATABRICKS_PIP_EXTRA_INDEX_URL (extra).",
        max_length=64,
    )
    policy_id: str = setting("Cluster policy id", help="Optional: fix the variable in a policy.", max_length=64)


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
        "workspace_default": ModeSpec("workspace_default", "Workspace default package repository", ("role",)),
        "secret": ModeSpec(
            "secret",
            "Own secret (optionally wired to clusters / a policy)",
            ("scope", "key", "role", "clusters", "env_var", "policy_id"),
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
            extra = [f for f in ("clusters", "env_var", "policy_id") if data.get(f)]
            if extra or (data.get("scope") and data["scope"] != PACKAGE_SCOPE):
                raise ValidationError({(extra or ["scope"])[0]: "Not used by the workspace_default mode."})
            key = PACKAGE_KEYS[role]
            return {
                "mode": "workspace_default",
                "role": role,
                "scope": PACKAGE_SCOPE,
                "key": key,
                "location": f"secret:{PACKAGE_SCOPE}/{key}",
            }
        errors: dict[str, str] = {}
        scope, key = str(data.get("scope") or "").strip(), str(data.get("key") or "").strip()
        for field, value in (("scope", scope), ("key", key)):
            if not _NAME.match(value):
                errors[field] = "Use 1-128 letters, digits, '-', '_', '.' or '@'."
        env_var = str(data.get("env_var") or ENV_VARS[role]).strip()
        if not _ENV.match(env_var):
            errors["env_var"] = "Not a valid environment variable name."
        if not isinstance(clusters, list) or not all(isinstance(c, str) and _CLUSTER.match(c) for c in clusters):
            errors["clusters"] = "A list of cluster ids."
        policy_id = str(data.get("policy_id") or "").strip()
        if policy_id and not _CLUSTER.match(policy_id):
            errors["policy_id"] = "Not a valid policy id."
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
            "location": f"secret:{scope.lower()}/{key.lower()}",
        }

    @classmethod
    def delivery_rows(cls, delivery: Any) -> list[tuple[str, Any]]:
        """The secret, and each wired cluster with its state after the last push."""
        cfg = delivery.cfg
        states = delivery.state.get("clusters") or {}
        rows: list[tuple[str, Any]] = [("Secret", f"{cfg.scope} / {cfg.key}")]
        if delivery.mode == "secret":
            rows.append(("Environment variable", cfg.env_var))
            if cfg.clusters:
                rows.append(("Clusters", "; ".join(f"{c} ({states[c]})" if c in states else c for c in cfg.clusters)))
            if cfg.policy_id:
                policy = delivery.state.get("policy")
                rows.append(("Cluster policy", f"{cfg.policy_id} ({policy})" if policy else cfg.policy_id))
        return rows

    @classmethod
    def may_restart(cls, delivery: Any) -> bool:
        """Wiring a running cluster restarts it."""
        return bool(delivery.cfg.clusters)

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
        try:
            body = api.call("GET", "/api/2.0/secrets/list", params={"scope": scope})
        except DatabricksError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        for item in body.get("secrets") or []:  # an empty list may come back as {} (docs/platforms.md §1.3)
            if str(item.get("key", "")).lower() == key.lower():
                return int(item.get("last_updated_timestamp") or 0)
        return None

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
        scope, key = delivery.cfg.scope, delivery.cfg.key
        if delivery.delivered_remote_ts is None:
            self._ensure_scope(api, delivery)
        elif delivery.mode == "workspace_default":
            self._grant_users_read(api, scope)
        before = self.secret_timestamp(api, scope, key)
        body = {"scope": scope, "key": key, "string_value": value}
        try:
            api.call("POST", "/api/2.0/secrets/put", json=body)
        except DatabricksError as exc:
            # Delivered before, so the scope was skipped; someone has deleted it since. Create it and put again.
            if exc.code != "RESOURCE_DOES_NOT_EXIST" or delivery.delivered_remote_ts is None:
                raise
            self._ensure_scope(api, delivery)
            api.call("POST", "/api/2.0/secrets/put", json=body)
        result = PushResult(detail={"previous_ts": before})
        if delivery.mode == "secret":
            self._wire_clusters(api, delivery, restart_consent, result)
            if delivery.cfg.policy_id:
                self._wire_policy(api, delivery, result)
        return result

    def push_many(self, items: list[PushItem], *, parallel: int) -> None:
        """A batch of one workspace: per scope one ``secrets/list`` before and one after, the puts in parallel
        (at most ``parallel`` at once), then the cluster and policy wiring of ``secret`` deliveries. A scope is
        created (and the package scope's ACL granted) once per batch. 2 + 1 calls per scope and one per delivery,
        instead of three per delivery."""
        api = self.client()
        by_scope: dict[str, list[PushItem]] = {}
        for item in items:
            by_scope.setdefault(item.delivery.cfg.scope, []).append(item)
        before: dict[str, dict[str, int] | None] = {}

        def prepare(scope: str, group: list[PushItem]) -> None:
            if any(i.delivery.delivered_remote_ts is None for i in group):
                self._ensure_scope(api, group[0].delivery)
            elif group[0].delivery.mode == "workspace_default":
                self._grant_users_read(api, scope)
            before[scope] = self.scope_timestamps(api, scope)

        self._per_scope(by_scope, prepare, parallel)
        live = [i for i in items if i.error is None]

        def put(item: PushItem) -> None:
            d = item.delivery
            body = {"scope": d.cfg.scope, "key": d.cfg.key, "string_value": item.value}
            try:
                api.call("POST", "/api/2.0/secrets/put", json=body)
            except DatabricksError as exc:
                # Someone deleted the scope since it was last seen: create it and put again.
                if exc.code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                self._ensure_scope(api, d)
                api.call("POST", "/api/2.0/secrets/put", json=body)
            item.result = PushResult()

        run_parallel(put, live, parallel)
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
                if d.mode == "secret":
                    self._wire_clusters(api, d, item.restart_consent, item.result)
                    if d.cfg.policy_id:
                        self._wire_policy(api, d, item.result)
            except AdapterError as exc:
                item.result, item.error = None, exc

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
        """The key is in the scope with a timestamp newer than before the put (both the workspace's clock)."""
        before = result.detail.pop("previous_ts", None)
        if after is None:
            raise AdapterError(
                f"Verification failed: {delivery.cfg.scope}/{delivery.cfg.key} is not in the workspace after the put.",
                permanent=False,
            )
        if before is not None and after <= before:
            raise AdapterError(
                f"Verification failed: {delivery.cfg.scope}/{delivery.cfg.key} was not updated "
                f"(last_updated_timestamp stayed at {after}).",
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

    # --- clusters and policies ---------------------------------------------------------------------
    def _wire_clusters(self, api: DatabricksClient, delivery: Any, consent: bool, result: PushResult) -> None:
        ref = reference(delivery.cfg.scope, delivery.cfg.key)
        states: dict[str, str] = {}
        for cluster_id in delivery.cfg.clusters:
            try:
                cluster = api.call("GET", "/api/2.1/clusters/get", params={"cluster_id": cluster_id})
            except DatabricksError as exc:
                if exc.code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
                    states[cluster_id] = "does not exist"
                    result.notes.append(f"Cluster {cluster_id} does not exist.")
                    continue
                raise
            states[cluster_id] = self._wire_one(api, cluster, delivery.cfg.env_var, ref, consent, result)
        result.detail["clusters"] = states

    def _wire_one(
        self, api: DatabricksClient, cluster: dict[str, Any], env_var: str, ref: str, consent: bool, result: PushResult
    ) -> str:
        cid, name, state = cluster.get("cluster_id", ""), cluster.get("cluster_name", ""), cluster.get("state")
        if cluster.get("cluster_source") == "JOB":
            result.notes.append(f"Cluster {name} ({cid}) is a job cluster: never edited.")
            return "skipped: job cluster"
        version = dbr_version(str(cluster.get("spark_version", "")))
        if version is not None and version < MIN_DBR:
            result.notes.append(f"Cluster {name} runs DBR {version[0]}.{version[1]}; {env_var} needs 15.1+.")
            return "skipped: runtime older than 15.1"
        env = dict(cluster.get("spark_env_vars") or {})
        if env.get(env_var) == ref:
            return "wired"
        if state == "RUNNING" and not consent:
            result.notes.append(f"Cluster {name} ({cid}) is running: wired on next restart (editing it restarts it).")
            return "wired on next restart"
        if state not in ("RUNNING", "TERMINATED"):
            result.notes.append(f"Cluster {name} ({cid}) is {state}: it will be wired when it settles.")
            return "waiting"
        env[env_var] = ref
        try:
            api.call(
                "POST",
                "/api/2.1/clusters/update",
                json={"cluster_id": cid, "update_mask": "spark_env_vars", "cluster": {"spark_env_vars": env}},
            )
        except DatabricksError as exc:
            if exc.code == "INVALID_STATE":
                return "waiting"
            raise
        if state == "RUNNING":
            result.notes.append(f"Cluster {name} ({cid}) wired and restarted (with consent).")
            return "wired; restarted"
        return "wired"

    def _wire_policy(self, api: DatabricksClient, delivery: Any, result: PushResult) -> None:
        policy = api.call("GET", "/api/2.0/policies/clusters/get", params={"policy_id": delivery.cfg.policy_id})
        try:
            definition = json.loads(policy.get("definition") or "{}")
        except ValueError:
            raise AdapterError(
                f"Policy {delivery.cfg.policy_id} has a definition that is not JSON.", permanent=True
            ) from None
        ref = reference(delivery.cfg.scope, delivery.cfg.key)
        wanted = {"type": "fixed", "value": ref, "hidden": True}
        path = f"spark_env_vars.{delivery.cfg.env_var}"
        if definition.get(path) == wanted:
            result.detail["policy"] = "wired"
            return
        definition[path] = wanted
        body: dict[str, Any] = {
            k: policy[k]
            for k in (
                "name",
                "description",
                "max_clusters_per_user",
                "policy_family_id",
                "policy_family_definition_overrides",
                "libraries",
            )
            if k in policy
        }
        api.call(
            "POST",
            "/api/2.0/policies/clusters/edit",
            json={**body, "policy_id": delivery.cfg.policy_id, "definition": json.dumps(definition)},
        )
        result.detail["policy"] = "wired"
