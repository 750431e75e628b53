"""Names, limits and the settings of Databricks targets and deliveries (docs/platforms.md §1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from targets.adapters.base import setting

PACKAGE_SCOPE = "databricks-package-management"
# Docs "Configure default Python package repositories": the predefined scope's keys.
PACKAGE_KEYS = {"index": "pip-index-url", "extra": "pip-extra-index-urls"}
CERT_KEY = "pip-cert"
ENV_VARS = {"index": "DATABRICKS_PIP_INDEX_URL", "extra": "DATABRICKS_PIP_EXTRA_INDEX_URL"}
# The docs do not give the separator of several URLs in pip-extra-index-urls: a space, as pip's own
# PIP_EXTRA_INDEX_URL takes them (pip docs, "Environment Variables": several values are space-separated).
EXTRA_SEPARATOR = " "
# cluster_source values of clusters users cannot edit (SDK ``ClusterSource``; Clusters API "Edit a cluster": job
# clusters cannot be edited; pipeline, SQL-warehouse and model-serving clusters belong to their services).
NON_EDITABLE_SOURCES = frozenset({"JOB", "PIPELINE", "PIPELINE_MAINTENANCE", "SQL", "MODELS"})
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")
ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
CLUSTER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
GROUP = re.compile(r"^[^{}/\s][^{}/]{0,127}$")
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
        help="Cluster ids to wire, separated by commas or spaces (optional). Job, pipeline, SQL and model-serving "
        "clusters are never edited. Only a cluster's owner may add the reference, and the owner must be able to "
        "read the scope: Feedkeeper grants it READ (Premium plan).",
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
    reader_group: str = setting(
        "Reader group",
        help="Optional: a workspace group granted READ on the scope instead of each wired cluster's owner "
        "(secret ACLs need the Premium plan).",
    )
    ca_bundle: str = setting(
        "CA bundle (PEM)",
        help="Optional: PEM certificates of the CA behind the feed (a corporate CA), pushed to the package scope's "
        "key pip-cert. Public, not a secret.",
        max_length=65536,
        multiline=True,
    )
