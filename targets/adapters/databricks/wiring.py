"""Wiring ``secret`` deliveries to clusters and a cluster policy (docs/platforms.md §1.6, §1.7).

Docs "Use a secret in a Spark configuration property or environment variable", Requirements: "Cluster owners must
have CAN READ permission on the secret scope"; "You must be a cluster owner to add or edit a secret in a Spark
configuration property or environment variable". Feedkeeper creates the scope and so alone holds MANAGE: before
wiring a cluster it grants READ to the cluster's owner (``single_user_name``, else ``creator_user_name``) or to the
delivery's reader group. A cluster the platform refuses is recorded with its reason; the others and the policy are
still wired.
"""

from __future__ import annotations

import json
from typing import Any

from targets.adapters.base import AdapterError, PushResult
from targets.adapters.databricks.config import MIN_DBR, NON_EDITABLE_SOURCES, dbr_version, reference
from targets.adapters.databricks_api import DatabricksClient, DatabricksError

PREMIUM_HINT = (
    "Secret ACLs need the Premium plan or above: on a Standard workspace Feedkeeper cannot grant READ, and only a "
    "scope created with initial_manage_principal 'users' is readable by cluster owners."
)
# Fields of a policy that policies/clusters/edit takes and that must survive an edit (edit replaces the policy
# whole). SDK ``ClusterPoliciesAPI.edit``; auto_enforcement_config is carried as read, should the workspace have it.
POLICY_FIELDS = (
    "name",
    "description",
    "max_clusters_per_user",
    "libraries",
    "policy_family_id",
    "auto_enforcement_config",
)


def cluster_owner(cluster: dict[str, Any]) -> str:
    return str(cluster.get("single_user_name") or cluster.get("creator_user_name") or "")


class Wiring:
    """One push's wiring of one ``secret`` delivery; grants are made at most once per principal."""

    def __init__(self, api: DatabricksClient, delivery: Any, consent: bool, result: PushResult) -> None:
        self.api, self.delivery, self.consent, self.result = api, delivery, consent, result
        self.cfg = delivery.cfg
        self.ref = reference(self.cfg.scope, self.cfg.key)
        self.grants: dict[str, str] = {}  # principal -> "" (may read) or why it could not be granted

    def clusters(self) -> None:
        states: dict[str, str] = {}
        for cluster_id in self.cfg.clusters:
            try:
                cluster = self.api.call("GET", "/api/2.1/clusters/get", params={"cluster_id": cluster_id})
            except DatabricksError as exc:
                if exc.code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
                    states[cluster_id] = "does not exist"
                    self.result.notes.append(f"Cluster {cluster_id} does not exist.")
                    continue
                raise
            try:
                states[cluster_id] = self.one(cluster)
            except DatabricksError as exc:
                if not exc.permanent:
                    raise
                # One refusal must not leave the other clusters and the policy unwired.
                states[cluster_id] = f"refused: {exc}"
                self.result.notes.append(f"Cluster {cluster.get('cluster_name', '')} ({cluster_id}) not wired: {exc}")
        self.result.detail["clusters"] = states

    def one(self, cluster: dict[str, Any]) -> str:
        cid, name, state = cluster.get("cluster_id", ""), cluster.get("cluster_name", ""), cluster.get("state")
        source = str(cluster.get("cluster_source") or "")
        if source in NON_EDITABLE_SOURCES:
            label = "job" if source == "JOB" else source.lower().replace("_", " ")
            self.result.notes.append(f"Cluster {name} ({cid}) is a {label} cluster: never edited.")
            return f"skipped: {label} cluster"
        version = dbr_version(str(cluster.get("spark_version", "")))
        if version is not None and version < MIN_DBR:
            self.result.notes.append(
                f"Cluster {name} ({cid}) runs DBR {version[0]}.{version[1]}; {self.cfg.env_var} needs 15.1+."
            )
            return "skipped: runtime older than 15.1"
        reader = self.cfg.reader_group or cluster_owner(cluster)
        why = self.grant_read(reader)
        if why:
            self.result.notes.append(f"Cluster {name} ({cid}) not wired: {why}")
            return f"refused: {why}"
        env = dict(cluster.get("spark_env_vars") or {})
        if env.get(self.cfg.env_var) == self.ref:
            return "wired"
        if state == "RUNNING" and not self.consent:
            self.result.notes.append(
                f"Cluster {name} ({cid}) is running: wired on next restart (editing it restarts it)."
            )
            return "wired on next restart"
        if state not in ("RUNNING", "TERMINATED"):
            self.result.notes.append(f"Cluster {name} ({cid}) is {state}: it will be wired when it settles.")
            return "waiting"
        env[self.cfg.env_var] = self.ref
        try:
            self.api.call(
                "POST",
                "/api/2.1/clusters/update",
                json={"cluster_id": cid, "update_mask": "spark_env_vars", "cluster": {"spark_env_vars": env}},
            )
        except DatabricksError as exc:
            if exc.code == "INVALID_STATE":
                return "waiting"
            raise
        if state == "RUNNING":
            self.result.notes.append(f"Cluster {name} ({cid}) wired and restarted (with consent).")
            return "wired; restarted"
        return "wired"

    def grant_read(self, principal: str) -> str:
        """Make sure ``principal`` may read the scope: keep any ACL it has (never lower a MANAGE to READ), else put
        READ. Returns "" or the reason it could not be granted."""
        if principal in self.grants:
            return self.grants[principal]
        if not principal:
            self.grants[principal] = "the cluster reports no owner."
            return self.grants[principal]
        scope = self.cfg.scope
        why = ""
        try:
            self.api.call("GET", "/api/2.0/secrets/acls/get", params={"scope": scope, "principal": principal})
        except DatabricksError as exc:
            if exc.code != "RESOURCE_DOES_NOT_EXIST" or not exc.permanent:
                raise
            try:
                self.api.call(
                    "POST",
                    "/api/2.0/secrets/acls/put",
                    json={"scope": scope, "principal": principal, "permission": "READ"},
                )
                self.result.notes.append(f"Granted {principal} READ on scope {scope} (cluster owners must read it).")
            except DatabricksError as put_exc:
                if put_exc.code == "RESOURCE_ALREADY_EXISTS":
                    pass
                elif not put_exc.permanent:
                    raise
                else:
                    # A Standard workspace's refusal is not documented: any other refusal than a bad principal or a
                    # missing permission gets the Premium hint.
                    hint = (
                        "" if put_exc.code in ("INVALID_PARAMETER_VALUE", "PERMISSION_DENIED") else f" {PREMIUM_HINT}"
                    )
                    why = f"could not grant {principal} READ on scope {scope}: {put_exc}{hint}"
        self.grants[principal] = why
        return why

    def policy(self) -> None:
        api, cfg = self.api, self.cfg
        policy = api.call("GET", "/api/2.0/policies/clusters/get", params={"policy_id": cfg.policy_id})
        # A policy made from a policy family: "policy_family_id ... Cannot be used with definition. Use
        # policy_family_definition_overrides instead" (Cluster Policies API reference, "Update a cluster policy").
        field = "policy_family_definition_overrides" if policy.get("policy_family_id") else "definition"
        try:
            document = json.loads(policy.get(field) or "{}")
        except ValueError:
            raise AdapterError(f"Policy {cfg.policy_id} has a {field} that is not JSON.", permanent=True) from None
        wanted = {"type": "fixed", "value": self.ref, "hidden": True}
        path = f"spark_env_vars.{cfg.env_var}"
        if document.get(path) != wanted:
            document[path] = wanted
            body: dict[str, Any] = {k: policy[k] for k in POLICY_FIELDS if policy.get(k) is not None}
            api.call(
                "POST",
                "/api/2.0/policies/clusters/edit",
                json={**body, "policy_id": cfg.policy_id, field: json.dumps(document)},
            )
        self.result.detail["policy"] = "wired"
