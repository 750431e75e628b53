"""The simulated Azure Artifacts PyPI feeds on the pkgs host.

Sources: Microsoft Learn "Get started with Python packages in Azure Artifacts" / "Connect to Azure Artifacts feeds
with pip" (index URLs ``https://pkgs.dev.azure.com/{org}/{project}/_packaging/{feed}/pypi/simple/`` for project-scoped
and ``…/{org}/_packaging/{feed}/pypi/simple/`` for organization-scoped feeds; HTTP Basic with any username and a
personal access token with the ``Packaging (Read)`` scope as the password) and Microsoft's Azure Artifacts
Credential Provider (``AuthUtil``), which reads ``WWW-Authenticate: Bearer authorization_uri=…``,
``X-VSS-ResourceTenant`` and ``X-VSS-AuthorizationEndpoint`` from an unauthenticated answer.

``…/pypi/simple/``                                   PEP 503 root (every project of the feed)
``…/pypi/simple/{project}/``                         the project's files, each with its ``#sha256=``
``…/_packaging/{feed id}/pypi/download/{project}/{version}/{file}``   the wheel
"""

from __future__ import annotations

import base64
import html
import re
import uuid
from typing import TYPE_CHECKING

from simulators._pypi import normalize

from .state import Feed, Organization, Pat
from .wire import Reply, Request

if TYPE_CHECKING:
    from .server import AzureDevOpsSimulator

# Scopes that may read a feed: Packaging (Read), (Read & write), (Read, write & manage), and full access.
PACKAGING_SCOPES = frozenset({"vso.packaging", "vso.packaging_write", "vso.packaging_manage", "app_token"})
_LINK = re.compile(r'<a href="([^"#]*)#sha256=([0-9a-f]{64})">([^<]*)</a>')


def handle(sim: AzureDevOpsSimulator, req: Request) -> Reply:
    if req.method not in ("GET", "HEAD"):
        return Reply(405, b"", headers=[("Allow", "GET, HEAD")])
    segments = [p for p in req.path.split("/") if p]
    index = next((i for i, s in enumerate(segments[:3]) if s.lower() == "_packaging"), None)
    if index not in (1, 2) or len(segments) < index + 4 or segments[index + 2].lower() != "pypi":
        return _not_found()
    org = sim.state.organization(segments[0])
    project = segments[1] if index == 2 else None
    if org is None or (project is not None and project.lower() not in org.projects):
        return _not_found()
    pat = _authenticate(sim, req, org)
    if pat is None:
        return refuse(sim, req, org)
    feed = org.feed(project, segments[index + 1])
    if feed is None:
        return _not_found()
    kind, rest = segments[index + 3].lower(), segments[index + 4 :]
    if kind == "simple" and not rest:
        return Reply(200, feed.index.root_page(), "text/html; charset=utf-8")
    if kind == "simple" and len(rest) == 1:
        page = _project_page(req, org, feed, rest[0])
        return _not_found() if page is None else Reply(200, page, "text/html; charset=utf-8")
    if kind == "download" and len(rest) == 3:
        data = feed.index.file(rest[2])
        if data is None or not rest[2].lower().startswith(normalize(rest[0]).replace("-", "_") + "-"):
            return _not_found()
        return Reply(200, data, "application/octet-stream")
    return _not_found()


def _not_found() -> Reply:
    return Reply.json(404, {"message": "The feed, package or file does not exist.", "typeKey": "NotFoundException"})


def _authenticate(sim: AzureDevOpsSimulator, req: Request, org: Organization) -> Pat | None:
    """A live PAT of a member of ``org`` that may read packages, sent as the Basic password (any username)."""
    authorization = (req.header("authorization") or "").strip()
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _, _, password = base64.b64decode(credential.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    pat = sim.state.pat_by_token(password) if password else None
    if pat is None or not sim.state.is_live(pat) or pat.user_oid not in org.members:
        return None
    if pat.target_accounts is not None and org.id not in pat.target_accounts:
        return None
    if not pat.scopes() & PACKAGING_SCOPES:
        return None
    return pat


def refuse(sim: AzureDevOpsSimulator, req: Request, org: Organization) -> Reply:
    """401 with Azure DevOps' three challenges (default), or 203 with the sign-in page."""
    headers = [
        ("X-TFS-ProcessId", sim.process_id),
        ("ActivityId", str(uuid.uuid4())),
        ("X-VSS-ResourceTenant", sim.state.tenant_id),
        ("X-VSS-AuthorizationEndpoint", f"{sim.vssps_url}/{org.name}/"),
    ]
    suppress = (req.header("x-tfs-fedauthredirect") or "").lower() == "suppress"
    if sim.feed_bad_credentials_status == 203 and not suppress:
        page = (
            "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head><body>"
            "<p>Sign in to your account to continue to Azure DevOps.</p></body></html>"
        )
        return Reply.html(203, page, headers=headers)
    headers += [
        ("WWW-Authenticate", f"Bearer authorization_uri={sim.entra_url}/{sim.state.tenant_id}"),
        ("WWW-Authenticate", f'Basic realm="{sim.pkgs_url}/"'),
        ("WWW-Authenticate", "TFS-Federated"),
    ]
    return Reply(401, b"", None, headers=headers)


def _project_page(req: Request, org: Organization, feed: Feed, name: str) -> bytes | None:
    """The index's project page with Azure Artifacts-style download links (``…/download/{name}/{version}/{file}``)."""
    page = feed.index.project_page(name, "")
    if page is None:
        return None
    prefix = f"{req.base_url}/{org.name}/"
    if feed.project is not None:
        prefix += f"{org.projects[feed.project.lower()]}/"
    prefix += f"_packaging/{feed.id}/pypi/download/{normalize(name)}/"
    links = []
    for filename, digest, text in _LINK.findall(page.decode("utf-8")):
        version = html.unescape(filename).split("-")[1]
        href = html.escape(f"{prefix}{version}/{html.unescape(filename)}")
        links.append(f'<a href="{href}#sha256={digest}">{text}</a><br/>\n')
    return (
        "<!DOCTYPE html>\n<html><head><title>Links for "
        f"{html.escape(normalize(name))}</title></head><body>\n<h1>Links for {html.escape(normalize(name))}</h1>\n"
        + "".join(links)
        + "</body></html>\n"
    ).encode()
