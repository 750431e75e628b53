"""The GitHub simulator in ``make demo`` (see :mod:`demo.platform`): organization ``acme`` with three private
repositories; target ``github-acme`` gets the feed as the organization Actions secret ``PIP_INDEX_URL``, shared
with two of them (visibility ``selected``).

The contract smoke test puts its own organization secret (visibility ``all``) under the same default name, which
would take the demo's secret away from its selected repositories; so the demo adds a second organization,
``acme-smoke``, that the same token administers, and points the smoke test at it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo.platform import DemoPlatform, SeedContext, Seeding, rows
from demo.processes import Child, Supervisor, free_port
from demo.services import LATENCY_MS, http_json, wait_http

ORGANIZATION = "acme"
SMOKE_ORGANIZATION = "acme-smoke"
SECRET_NAME = "PIP_INDEX_URL"  # the GitHub adapter's default, what CI workflows read
REPOSITORIES = 3
SELECTED = 2  # how many of the repositories the organization secret is shared with


@dataclass(frozen=True)
class GitHubInfo:
    url: str  # the API base (no prefix: as api.github.com)
    token: str
    organization: str
    repositories: list[str]  # the organization's repositories, sorted
    smoke_organization: str  # administered by the same token; the smoke test's


def prepare(url: str, token: str, organization: str) -> GitHubInfo:
    """Wait until the simulator at ``url`` (no prefix) answers, read ``organization``'s repositories, and add the
    organization :data:`SMOKE_ORGANIZATION` that ``token``'s user also administers (through ``/_sim/``). Raises
    RuntimeError when ``organization`` or ``token`` is unknown to the simulator."""
    wait_http(f"{url}/_sim/state")
    state = http_json("GET", f"{url}/_sim/state")
    org = next((o for o in state.get("orgs") or [] if o.get("login", "").lower() == organization.lower()), None)
    holder: dict[str, Any] | None = next((t for t in state.get("tokens") or [] if t.get("token") == token), None)
    if org is None or holder is None:
        raise RuntimeError(f"The GitHub simulator does not know organization {organization} or the demo's token.")
    http_json("POST", f"{url}/_sim/orgs", {"login": SMOKE_ORGANIZATION})
    http_json(  # the same token and user, now also an admin of the smoke test's organization
        "POST",
        f"{url}/_sim/tokens",
        {
            "token": token,
            "login": holder["login"],
            "expires_at": holder.get("expires_at"),
            "admin_of": sorted({*holder.get("admin_of", []), SMOKE_ORGANIZATION.lower()}),
            "member_of": holder.get("member_of", []),
        },
    )
    return GitHubInfo(
        url=url,
        token=token,
        organization=organization,
        repositories=sorted(str(r["name"]) for r in org.get("repos") or []),
        smoke_organization=SMOKE_ORGANIZATION,
    )


class GitHubDemo(DemoPlatform[GitHubInfo]):
    kind = "github"

    def start(self, sup: Supervisor, env: dict[str, str], cwd: Path) -> Child:
        """``python -m simulators.github`` with organization :data:`ORGANIZATION` and :data:`REPOSITORIES`
        private repositories (``repo-1`` ...)."""
        argv = [
            sys.executable,
            "-m",
            "simulators.github",
            "--port",
            str(free_port()),
            "--org",
            ORGANIZATION,
            "--repos",
            str(REPOSITORIES),
            "--latency-ms",
            str(LATENCY_MS),
        ]
        return sup.start(self.process_name, argv, env=env, cwd=cwd)

    def ready(self, sup: Supervisor, child: Child) -> GitHubInfo:
        """Read the ``github: URL token=T org=O repos=N`` line, then :func:`prepare` the simulator."""
        m = sup.wait_for_line(child, r"^github: (\S+) token=(\S+) org=(\S+) repos=\d+")
        return prepare(m.group(1), m.group(2), m.group(3))

    def seed(self, ctx: SeedContext, info: GitHubInfo) -> Seeding:
        """``github-acme`` (token) and the organization secret :data:`SECRET_NAME` (``actions_org_secret``) shared
        with the first :data:`SELECTED` repositories."""
        selected = info.repositories[:SELECTED]
        ctx.target(
            "github-acme", self.kind, url=info.url, auth_type="token", token=info.token, organization=info.organization
        )
        ctx.deliver(
            "github-acme",
            mode="actions_org_secret",
            variable=SECRET_NAME,
            visibility="selected",
            repositories=selected,
        )
        notes = []
        if len(selected) < SELECTED:
            notes.append(f"The GitHub organization {info.organization} has fewer than {SELECTED} repositories.")
        return Seeding(
            f"github: target github-acme (organization {info.organization}), Actions secret {SECRET_NAME} for "
            f"{', '.join(selected) or 'no repository'}",
            notes,
        )

    def banner_lines(self, info: GitHubInfo) -> list[str]:
        return rows(
            "GitHub",
            f"{info.url}  token {info.token}  organization {info.organization}",
            f"(repositories {', '.join(info.repositories)}; the smoke test uses organization "
            f"{info.smoke_organization})",
        )

    def smoke_args(self, info: GitHubInfo) -> list[str]:
        """The smoke organization, so the smoke test's secret never replaces the demo's."""
        return ["--github-url", info.url, "--github-token", info.token, "--github-org", info.smoke_organization]


PLATFORM = GitHubDemo()
