"""Loopback simulator of the Databricks workspace REST API (secrets, clusters, policies, tokens).

    from simulators.databricks import DatabricksSimulator
    with DatabricksSimulator(workspaces=2) as sim:
        ws = sim.workspace(0)          # WorkspaceState: tokens, scopes, clusters, faults, ...
        sim.urls                       # ["http://127.0.0.1:PORT", ...]

Run alone with ``python -m simulators.databricks --port 8901``. See ``simulators/README.md``.
"""

from simulators.databricks.server import DatabricksSimulator, seed_clusters
from simulators.databricks.state import DEFAULT_TOKEN, DEFAULT_USER, WorkspaceState

__all__ = ["DEFAULT_TOKEN", "DEFAULT_USER", "DatabricksSimulator", "WorkspaceState", "seed_clusters"]
