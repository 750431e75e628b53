"""In-memory state of one simulated Databricks workspace.

Everything a workspace knows lives in :class:`WorkspaceState`: principals and tokens, secret
scopes with their secrets and ACLs, clusters, cluster policies, the fault plan, the clock skew
and a log of the requests it served. Every access goes through ``state.lock`` (re-entrant), so
tests may call the helpers while the HTTP threads serve requests.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from simulators._common import FaultInjector
from simulators.databricks.models import (
    CLUSTER_STATES,
    DEFAULT_SPARK_VERSION,
    DEFAULT_TOKEN,
    DEFAULT_USER,
    EDITABLE_CLUSTER_FIELDS,
    MAX_REQUESTS,
    NON_EDITABLE_SOURCES,
    PERMISSION_RANK,
    Cluster,
    Policy,
    Principal,
    Scope,
    Secret,
    ServicePrincipal,
    Token,
)

__all__ = [
    "CLUSTER_STATES",
    "DEFAULT_SPARK_VERSION",
    "DEFAULT_TOKEN",
    "DEFAULT_USER",
    "EDITABLE_CLUSTER_FIELDS",
    "NON_EDITABLE_SOURCES",
    "PERMISSION_RANK",
    "Cluster",
    "Policy",
    "Principal",
    "Scope",
    "Secret",
    "ServicePrincipal",
    "Token",
    "WorkspaceState",
]


class WorkspaceState:
    """The in-memory state of one workspace; all public helpers are thread-safe."""

    def __init__(
        self,
        index: int = 0,
        seed: int = 0,
        default_token: str | None = DEFAULT_TOKEN,
        latency: float = 0.0,
    ) -> None:
        self.lock = threading.RLock()
        self.index = index
        self.rng = random.Random(seed * 1000 + index)
        self.workspace_id = str(self.rng.randrange(10**15, 10**16))
        self.url = ""  # set by the simulator once bound
        self.latency = float(latency)
        self.faults = FaultInjector(seed=seed * 1000 + index, rate_path_prefix="/api/")
        self.clock_skew_ms = 0
        self.frozen_ms: int | None = None  # tests may stop the clock (epoch ms, before skew)
        # "oauth" answers token errors as {error, error_description}; "okta" as {errorCode, errorSummary}, the other
        # shape databricks-sdk reads (oauth.py, retrieve_token).
        self.oauth_error_style = "oauth"
        # Secret ACLs need the Premium plan (docs "Secret ACLs"); a Standard workspace refuses acls/put.
        self.premium = True
        self.users: set[str] = set()  # lower-cased user names known to the workspace
        self.groups: dict[str, set[str]] = {}  # group name -> lower-cased member user names
        self.policy_families: dict[str, str] = {
            "personal-vm": '{"node_type_id": {"type": "fixed", "value": "Standard_DS3_v2"}}',
            "job-cluster": '{"cluster_type": {"type": "fixed", "value": "job"}}',
        }
        self.requests: list[tuple[str, str]] = []
        self.restarts: dict[str, int] = {}
        self.oauth_tokens_issued = 0
        self.oauth_token_lifetime_s = 3600
        self.max_scopes = 1000
        self.max_secrets_per_scope = 1000
        self.max_value_bytes = 128 * 1024
        self.max_tokens_per_user = 600
        self.tokens: dict[str, Token] = {}  # value -> Token
        self.oauth_tokens: dict[str, tuple[Principal, float]] = {}  # value -> (who, expiry epoch s)
        self.service_principals: dict[str, ServicePrincipal] = {}
        self.scopes: dict[str, Scope] = {}  # lower -> Scope
        self.clusters: dict[str, Cluster] = {}
        self.policies: dict[str, Policy] = {}
        # Libraries per cluster id (LibraryFullStatus dicts) and jobs by id: see workloads_api.py.
        self.libraries: dict[str, list[dict[str, Any]]] = {}
        self.jobs: dict[int, dict[str, Any]] = {}
        if default_token:
            self.add_token(default_token, user=DEFAULT_USER, admin=True)

    # ----- clock and ids -------------------------------------------------------------------
    def now_ms(self) -> int:
        """The workspace's own clock in epoch ms (our clock plus ``clock_skew_ms``)."""
        now = self.frozen_ms if self.frozen_ms is not None else int(time.time() * 1000)
        return int(now) + int(self.clock_skew_ms)

    def new_hex(self, length: int) -> str:
        """Random lowercase hex from the workspace RNG."""
        with self.lock:
            return "".join(self.rng.choice("0123456789abcdef") for _ in range(length))

    def record(self, method: str, path: str) -> None:
        """Append one served request to ``requests`` (the oldest half is dropped past MAX_REQUESTS)."""
        with self.lock:
            self.requests.append((method, path))
            if len(self.requests) > MAX_REQUESTS:
                del self.requests[: MAX_REQUESTS // 2]

    # ----- principals and tokens -------------------------------------------------------------
    def add_token(
        self,
        token: str,
        user: str = DEFAULT_USER,
        admin: bool = True,
        expiry_ms: int | None = None,
        comment: str = "",
    ) -> str:
        """Accept ``token`` as a PAT of ``user``; returns its token_id. ``expiry_ms`` None = never."""
        with self.lock:
            self.users.add(user.lower())
            token_id = self.new_hex(64)
            self.tokens[token] = Token(
                token_id=token_id,
                value=token,
                principal=Principal(user, bool(admin)),
                creation_time=self.now_ms(),
                expiry_time=-1 if expiry_ms is None else int(expiry_ms),
                comment=comment,
            )
            return token_id

    def revoke_token(self, token: str) -> bool:
        """Forget a PAT (by value); True if it existed."""
        with self.lock:
            return self.tokens.pop(token, None) is not None

    def add_service_principal(self, client_id: str, client_secret: str, admin: bool = True) -> None:
        """Accept OAuth M2M client credentials."""
        with self.lock:
            self.service_principals[client_id] = ServicePrincipal(client_id, client_secret, admin)

    def authenticate(self, bearer: str) -> Principal | None:
        """Principal for a PAT or issued OAuth token, or None if unknown or expired."""
        with self.lock:
            pat = self.tokens.get(bearer)
            if pat is not None:
                if pat.expiry_time != -1 and pat.expiry_time <= self.now_ms():
                    return None
                return pat.principal
            issued = self.oauth_tokens.get(bearer)
            if issued is not None and issued[1] > time.time():
                return issued[0]
            return None

    def issue_oauth_token(self, client_id: str, client_secret: str) -> str | None:
        """Mint an access token for valid client credentials (counted in ``oauth_tokens_issued``)."""
        with self.lock:
            sp = self.service_principals.get(client_id)
            if sp is None or sp.client_secret != client_secret:
                return None
            value = "dsim-oauth-" + self.new_hex(40)
            who = Principal(client_id, sp.admin, service_principal=True)
            self.oauth_tokens[value] = (who, time.time() + self.oauth_token_lifetime_s)
            self.oauth_tokens_issued += 1
            return value

    # ----- secrets (test read-back) ------------------------------------------------------------
    def secret_value(self, scope: str, key: str) -> str | None:
        """The stored value of a secret (UTF-8 decoded), or None."""
        secret = self._secret(scope, key)
        return None if secret is None else secret.value.decode("utf-8", errors="replace")

    def secret_timestamp(self, scope: str, key: str) -> int | None:
        """The secret's ``last_updated_timestamp`` in ms, or None."""
        secret = self._secret(scope, key)
        return None if secret is None else secret.last_updated_timestamp

    def acl(self, scope: str, principal: str) -> str | None:
        """The permission ``principal`` holds on ``scope`` by ACL, or None."""
        with self.lock:
            found = self.scopes.get(scope.lower())
            entry = None if found is None else found.acls.get(principal.lower())
            return None if entry is None else entry[1]

    def _secret(self, scope: str, key: str) -> Secret | None:
        with self.lock:
            found = self.scopes.get(scope.lower())
            return None if found is None else found.secrets.get(key.lower())

    def scope_permission(self, scope: Scope, who: Principal) -> int:
        """Effective rank (0..3) of ``who`` on ``scope``: admins hold MANAGE everywhere."""
        return self.user_scope_permission(scope, who.user_name, admin=who.admin)

    def user_scope_permission(self, scope: Scope, user_name: str, admin: bool | None = None) -> int:
        """Effective rank (0..3) of the user ``user_name`` on ``scope``: by admin-ness (looked up when not given),
        their own ACL, ``users``, and the groups they belong to ("Secret ACLs": the most powerful one wins)."""
        name = user_name.lower()
        if admin is None:
            admin = self.is_admin(name)
        if admin:
            return PERMISSION_RANK["MANAGE"]
        ranks = [0]
        for principal in (name, "users", *(g.lower() for g, members in self.groups.items() if name in members)):
            entry = scope.acls.get(principal)
            if entry:
                ranks.append(PERMISSION_RANK[entry[1]])
        return max(ranks)

    def is_admin(self, user_name: str) -> bool:
        """Whether a user is a workspace admin: an admin token of theirs, or membership of ``admins``."""
        name = user_name.lower()
        with self.lock:
            if name in self.groups.get("admins", set()):
                return True
            return any(t.principal.admin and t.principal.user_name.lower() == name for t in self.tokens.values())

    def add_group(self, name: str, members: list[str] | tuple[str, ...] = ()) -> None:
        """A workspace group (a principal ACLs may name) with its member user names."""
        with self.lock:
            lowered = {m.lower() for m in members}
            self.users.update(lowered)
            self.groups.setdefault(name, set()).update(lowered)

    def principal_exists(self, name: str) -> bool:
        """A user, service principal or group of this workspace (``users`` and ``admins`` always exist)."""
        lowered = name.lower()
        with self.lock:
            return (
                lowered in ("users", "admins")
                or lowered in self.users
                or any(g.lower() == lowered for g in self.groups)
                or any(c.lower() == lowered for c in self.service_principals)
            )

    # ----- clusters --------------------------------------------------------------------------
    def add_cluster(
        self,
        cluster_id: str | None = None,
        name: str = "etl",
        state: str = "RUNNING",
        spark_version: str = DEFAULT_SPARK_VERSION,
        cluster_source: str = "UI",
        spark_env_vars: dict[str, str] | None = None,
        owner: str | None = None,
        policy_id: str | None = None,
        start_time: int | None = None,
        last_restarted_time: int | None = None,
        last_state_loss_time: int | None = None,
        terminated_time: int | None = None,
        **attributes: Any,
    ) -> str:
        """Seed a cluster (any other ClusterDetails attribute may be passed); returns its id."""
        state = state.upper()
        if state not in CLUSTER_STATES:
            raise ValueError(f"unknown cluster state {state!r}")
        with self.lock:
            now = self.now_ms()
            if cluster_id is None:
                stamp = time.strftime("%m%d-%H%M%S", time.gmtime(now / 1000))
                cluster_id = f"{stamp}-{self.new_hex(8)}"
            owner = owner or DEFAULT_USER
            self.users.add(owner.lower())
            attrs: dict[str, Any] = {
                "cluster_name": name,
                "spark_version": spark_version,
                "spark_env_vars": dict(spark_env_vars or {}),
                "node_type_id": "Standard_DS3_v2",
                "num_workers": 1,
                "autotermination_minutes": 120,
                "single_user_name": owner,
                "data_security_mode": "SINGLE_USER",
            }
            if policy_id:
                attrs["policy_id"] = policy_id
            attrs.update(attributes)
            self.users.add(str(attrs.get("single_user_name") or owner).lower())
            ended: int | None
            if state == "TERMINATED":
                started = start_time if start_time is not None else now - 3_600_000
                ended = terminated_time if terminated_time is not None else now
                message = "Inactive cluster terminated (inactive for 120 minutes)."
            else:
                started = start_time if start_time is not None else now
                ended = terminated_time
                message = ""
            restarted = last_restarted_time if last_restarted_time is not None else started
            lost = last_state_loss_time if last_state_loss_time is not None else restarted
            self.clusters[cluster_id] = Cluster(
                cluster_id=cluster_id,
                attributes=attrs,
                state=state,
                cluster_source=cluster_source.upper(),
                creator_user_name=owner,
                start_time=started,
                state_message=message,
                last_restarted_time=restarted,
                last_state_loss_time=lost,
                terminated_time=ended,
                spec={k: v for k, v in attrs.items() if k in EDITABLE_CLUSTER_FIELDS},
            )
            return cluster_id

    def set_cluster_state(self, cluster_id: str, state: str) -> None:
        """Move a cluster to ``state``: RUNNING stamps ``last_restarted_time`` and ``last_state_loss_time`` (a new
        driver), TERMINATED the end time. ``start_time`` stays the creation time (SDK ``ClusterDetails``: "when the
        cluster creation request was received")."""
        state = state.upper()
        if state not in CLUSTER_STATES:
            raise ValueError(f"unknown cluster state {state!r}")
        with self.lock:
            cluster = self.clusters.get(cluster_id)
            if cluster is None:
                raise KeyError(cluster_id)
            now = self.now_ms()
            if state == "RUNNING" and cluster.state != "RUNNING":
                cluster.last_restarted_time = cluster.last_state_loss_time = now
                cluster.state_message = ""
            elif state == "TERMINATED" and cluster.state != "TERMINATED":
                cluster.terminated_time = now
                cluster.state_message = "Terminated by user."
            cluster.state = state

    def cluster(self, cluster_id: str) -> dict[str, Any] | None:
        """ClusterDetails of one cluster (with ``spec``), or None."""
        with self.lock:
            found = self.clusters.get(cluster_id)
            return None if found is None else found.details()

    def restart_cluster(self, cluster: Cluster) -> None:
        """Model a restart as instant: stamp ``last_restarted_time`` (and ``last_state_loss_time``: the driver is
        new) and count it in ``restarts``."""
        with self.lock:
            cluster.last_restarted_time = cluster.last_state_loss_time = self.now_ms()
            cluster.state = "RUNNING"
            self.restarts[cluster.cluster_id] = self.restarts.get(cluster.cluster_id, 0) + 1

    # ----- dump ------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON dump of everything, secret values included (for ``GET /_sim/state``)."""
        with self.lock:
            return {
                "workspace_id": self.workspace_id,
                "url": self.url,
                "latency": self.latency,
                "clock_skew_ms": self.clock_skew_ms,
                "scopes": [
                    {
                        "name": s.name,
                        "backend_type": s.backend_type,
                        "acls": [{"principal": p, "permission": perm} for p, perm in s.acls.values()],
                        "secrets": [
                            {
                                "key": sec.key,
                                "value": sec.value.decode("utf-8", errors="replace"),
                                "last_updated_timestamp": sec.last_updated_timestamp,
                            }
                            for sec in s.secrets.values()
                        ],
                    }
                    for s in self.scopes.values()
                ],
                "clusters": [c.details() for c in self.clusters.values()],
                "policies": [
                    p.as_dict(self.policy_families.get(p.policy_family_id or "")) for p in self.policies.values()
                ],
                "groups": {g: sorted(m) for g, m in self.groups.items()},
                "premium": self.premium,
                "tokens": [
                    {
                        "token_id": t.token_id,
                        "token": t.value,
                        "user": t.principal.user_name,
                        "admin": t.principal.admin,
                        "creation_time": t.creation_time,
                        "expiry_time": t.expiry_time,
                        "comment": t.comment,
                    }
                    for t in self.tokens.values()
                ],
                "service_principals": [
                    {"client_id": sp.client_id, "admin": sp.admin} for sp in self.service_principals.values()
                ],
                "restarts": dict(self.restarts),
                "oauth_tokens_issued": self.oauth_tokens_issued,
                "faults": self.faults.describe(),
                "requests": [list(r) for r in self.requests[-500:]],
            }
