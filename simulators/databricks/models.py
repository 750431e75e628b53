"""Records and constants of the simulated Databricks workspace (plain dataclasses, no locking)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TOKEN = "dapi-sim-token"
DEFAULT_USER = "admin@example.com"
DEFAULT_SPARK_VERSION = "15.4.x-scala2.12"
MAX_REQUESTS = 100_000
PERMISSION_RANK = {"READ": 1, "WRITE": 2, "MANAGE": 3}
# cluster_source values of clusters a user cannot edit (the services that created them own them): the SDK's
# ClusterSource enum lists UI, API, JOB, PIPELINE, PIPELINE_MAINTENANCE, SQL, MODELS; only UI and API clusters are
# user clusters (Clusters API reference, "Edit a cluster": job clusters cannot be edited). The rest is the stricter
# reading of the same rule for pipeline, SQL-warehouse and model-serving clusters.
NON_EDITABLE_SOURCES = frozenset({"JOB", "PIPELINE", "PIPELINE_MAINTENANCE", "SQL", "MODELS"})
CLUSTER_STATES = (
    "PENDING",
    "RUNNING",
    "RESTARTING",
    "RESIZING",
    "TERMINATING",
    "TERMINATED",
    "ERROR",
    "UNKNOWN",
)
# Fields of UpdateClusterResource (databricks-sdk): what edit/update may change and what `spec` holds.
EDITABLE_CLUSTER_FIELDS = frozenset(
    """autoscale autotermination_minutes aws_attributes azure_attributes cluster_log_conf
    cluster_name custom_tags data_security_mode dependency_mode docker_image
    driver_instance_pool_id driver_node_type_flexibility driver_node_type_id enable_elastic_disk
    enable_local_disk_encryption gcp_attributes init_scripts instance_pool_id is_single_node kind
    node_type_id num_workers policy_id remote_disk_throughput runtime_engine single_user_name
    spark_conf spark_env_vars spark_version ssh_public_keys total_initial_remote_disk_size
    use_ml_runtime worker_node_type_flexibility workload_type""".split()
)


@dataclass(frozen=True)
class Principal:
    """Who a request runs as: a user or a service principal (``user_name`` = application id)."""

    user_name: str
    admin: bool
    service_principal: bool = False

    @property
    def user_id(self) -> str:
        """Stable numeric SCIM id derived from the user name."""
        return str(int(hashlib.sha256(self.user_name.lower().encode()).hexdigest()[:13], 16))


@dataclass
class Token:
    """A personal access token the workspace accepts."""

    token_id: str
    value: str
    principal: Principal
    creation_time: int
    expiry_time: int = -1  # ms; -1 = never
    comment: str = ""


@dataclass
class ServicePrincipal:
    """OAuth M2M client credentials."""

    client_id: str
    client_secret: str
    admin: bool


@dataclass
class Secret:
    """One secret: canonical key, raw bytes and the ms timestamp of its last put."""

    key: str
    value: bytes
    last_updated_timestamp: int


@dataclass
class Scope:
    """A secret scope; ``secrets`` and ``acls`` are keyed by lower-cased name."""

    name: str
    backend_type: str = "DATABRICKS"
    secrets: dict[str, Secret] = field(default_factory=dict)
    acls: dict[str, tuple[str, str]] = field(default_factory=dict)  # lower -> (principal, perm)


@dataclass
class Cluster:
    """A cluster: its editable attributes plus lifecycle fields."""

    cluster_id: str
    attributes: dict[str, Any]
    state: str
    cluster_source: str
    creator_user_name: str
    start_time: int
    state_message: str = ""
    last_restarted_time: int | None = None
    last_state_loss_time: int | None = None
    terminated_time: int | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    pinned: bool = False

    def details(self, with_spec: bool = True) -> dict[str, Any]:
        """ClusterDetails as the REST API returns it (``list`` leaves out ``spec``)."""
        out: dict[str, Any] = {"cluster_id": self.cluster_id, **self.attributes}
        out.setdefault("spark_env_vars", {})
        out.update(
            state=self.state,
            state_message=self.state_message,
            cluster_source=self.cluster_source,
            creator_user_name=self.creator_user_name,
            start_time=self.start_time,
            default_tags={
                "Vendor": "Databricks",
                "Creator": self.creator_user_name,
                "ClusterName": self.attributes.get("cluster_name", ""),
                "ClusterId": self.cluster_id,
            },
        )
        if self.last_restarted_time is not None:
            out["last_restarted_time"] = self.last_restarted_time
        if self.last_state_loss_time is not None:
            out["last_state_loss_time"] = self.last_state_loss_time
        if self.terminated_time is not None and self.state == "TERMINATED":
            out["terminated_time"] = self.terminated_time
        if with_spec:
            out["spec"] = dict(self.spec)
        return out


@dataclass
class Policy:
    """A cluster policy; ``definition`` is kept as the JSON string it was given. A policy made from a policy family
    keeps ``policy_family_id`` and ``policy_family_definition_overrides`` instead, and answers with the family's
    definition merged with the overrides (Cluster Policies API reference, "Policy object")."""

    policy_id: str
    name: str
    definition: str
    creator_user_name: str
    created_at_timestamp: int
    description: str = ""
    max_clusters_per_user: int | None = None
    policy_family_id: str | None = None
    policy_family_definition_overrides: str | None = None
    libraries: list[Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other fields kept as given (auto_enforcement_config)

    def as_dict(self, family_definition: str | None = None) -> dict[str, Any]:
        """Policy as the REST API returns it (``family_definition``: the family's, for a family policy)."""
        definition = self.definition
        if self.policy_family_id is not None:
            merged = json.loads(family_definition or "{}")
            merged.update(json.loads(self.policy_family_definition_overrides or "{}"))
            definition = json.dumps(merged)
        out: dict[str, Any] = {
            "policy_id": self.policy_id,
            "name": self.name,
            "definition": definition,
            "creator_user_name": self.creator_user_name,
            "created_at_timestamp": self.created_at_timestamp,
            "is_default": False,
            **self.extra,
        }
        if self.description:
            out["description"] = self.description
        if self.max_clusters_per_user is not None:
            out["max_clusters_per_user"] = self.max_clusters_per_user
        if self.policy_family_id is not None:
            out["policy_family_id"] = self.policy_family_id
            if self.policy_family_definition_overrides:
                out["policy_family_definition_overrides"] = self.policy_family_definition_overrides
        if self.libraries:
            out["libraries"] = self.libraries
        return out
