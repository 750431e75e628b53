"""A loopback simulator of Microsoft Entra ID, the Azure DevOps PAT Lifecycle Management API and an Azure Artifacts
PyPI feed (``python -m simulators.azure_devops``).

    from simulators.azure_devops import AzureDevOpsSimulator
    with AzureDevOpsSimulator(redirect_uris=["http://localhost:8000/callback"]) as sim:
        app = msal.ConfidentialClientApplication(
            sim.client_id, client_credential=sim.client_secret, authority=sim.authority,
            instance_discovery=False, verify=sim.ca_path)
        sim.pats()                      # every PAT, token values included (tests only)

Standard library plus ``cryptography``. See ``simulators/README.md`` (## Azure DevOps and Entra).
"""

from .server import AzureDevOpsSimulator
from .state import ADO_RESOURCE, DEFAULT_FEED, DEFAULT_ORGANIZATION, DEFAULT_PROJECT, DEFAULT_USER

ADO_SCOPE = f"{ADO_RESOURCE}/.default"

__all__ = [
    "ADO_RESOURCE",
    "ADO_SCOPE",
    "DEFAULT_FEED",
    "DEFAULT_ORGANIZATION",
    "DEFAULT_PROJECT",
    "DEFAULT_USER",
    "AzureDevOpsSimulator",
]
