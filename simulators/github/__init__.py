"""A loopback simulator of the GitHub REST API for Actions secrets (``python -m simulators.github``).

    from simulators.github import GitHubSimulator
    with GitHubSimulator(prefix="") as sim:        # prefix="/api/v3" for GitHub Enterprise Server
        sim.add_repo("acme", "app")
        sim.api_url                                # base URL for clients
        sim.secret_value("acme", "PIP_INDEX_URL")  # decrypted plaintext, tests only

Standard library plus PyNaCl. See ``simulators/README.md`` (## GitHub).
"""

from .server import DEFAULT_LOGIN, DEFAULT_ORG, DEFAULT_TOKEN, GitHubSimulator

__all__ = ["DEFAULT_LOGIN", "DEFAULT_ORG", "DEFAULT_TOKEN", "GitHubSimulator"]
