"""A loopback simulator of the JFrog Platform's Access token API and an Artifactory PyPI repository
(``python -m simulators.jfrog``).

    from simulators.jfrog import JFrogSimulator
    with JFrogSimulator() as sim:
        sim.url           # http://127.0.0.1:PORT (the platform base URL)
        sim.admin_token   # non-expiring admin-scoped access token of user "admin"
        sim.mint("feedkeeper", expires_in=86400, include_reference_token=True)
        sim.is_live(token)

Standard library only. See ``simulators/README.md`` (## JFrog).
"""

from .server import ADMIN_USER, DEFAULT_REPO, DEFAULT_USER, JFrogSimulator
from .state import Policy

__all__ = ["ADMIN_USER", "DEFAULT_REPO", "DEFAULT_USER", "JFrogSimulator", "Policy"]
