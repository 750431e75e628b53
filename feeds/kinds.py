"""Feed kinds. Each kind knows its form fields and how they make the simple index URL; the registry drives
``Feed.kind`` choices."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class FeedKind:
    """A kind of feed. ``parts`` are the fields the index URL is built from (empty: the URL is entered)."""

    key: str
    label: str
    parts: tuple[str, ...] = ()
    required_parts: tuple[str, ...] = ()
    default_username: str = ""
    username_required: bool = False

    def build_index_url(self, values: dict[str, str]) -> str:
        raise NotImplementedError


class AzureDevOps(FeedKind):
    def build_index_url(self, values: dict[str, str]) -> str:
        org, project, feed = (
            quote(values.get(k, "").strip(), safe="") for k in ("organization", "project", "feed_name")
        )
        scope = f"{org}/{project}" if project else org
        from django.conf import settings

        return f"{settings.AZURE_DEVOPS_PKGS_URL.rstrip('/')}/{scope}/_packaging/{feed}/pypi/simple/"


class JFrog(FeedKind):
    def build_index_url(self, values: dict[str, str]) -> str:
        base = values.get("base_url", "").strip().rstrip("/")
        if base.endswith("/artifactory"):
            base = base[: -len("/artifactory")]
        repo = quote(values.get("repository", "").strip(), safe="")
        return f"{base}/artifactory/api/pypi/{repo}/simple"


class Generic(FeedKind):
    def build_index_url(self, values: dict[str, str]) -> str:
        return values.get("index_url", "").strip()


REGISTRY: dict[str, FeedKind] = {
    k.key: k
    for k in (
        AzureDevOps(
            "azure_devops",
            "Azure DevOps Artifacts",
            parts=("organization", "project", "feed_name"),
            required_parts=("organization", "feed_name"),
            # Azure Artifacts ignores the username; pip still needs one next to the PAT.
            default_username="feedkeeper",
        ),
        JFrog(
            "jfrog",
            "JFrog Artifactory",
            parts=("base_url", "repository"),
            required_parts=("base_url", "repository"),
            username_required=True,
        ),
        Generic("generic", "Any PEP 503 index"),
    )
}
CHOICES = [(k.key, k.label) for k in REGISTRY.values()]
