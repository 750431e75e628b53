"""Databricks workspaces (docs/platforms.md §1): the adapter (:mod:`.adapter`), its settings (:mod:`.config`),
cluster and policy wiring (:mod:`.wiring`) and the workspace default package repository (:mod:`.packages`)."""

from targets.adapters.databricks.adapter import DatabricksAdapter
from targets.adapters.databricks.config import (
    CERT_KEY,
    ENV_VARS,
    MIN_DBR,
    NON_EDITABLE_SOURCES,
    PACKAGE_KEYS,
    PACKAGE_SCOPE,
    DatabricksDelivery,
    DatabricksTarget,
    dbr_version,
    reference,
)

__all__ = [
    "CERT_KEY",
    "ENV_VARS",
    "MIN_DBR",
    "NON_EDITABLE_SOURCES",
    "PACKAGE_KEYS",
    "PACKAGE_SCOPE",
    "DatabricksAdapter",
    "DatabricksDelivery",
    "DatabricksTarget",
    "dbr_version",
    "reference",
]
