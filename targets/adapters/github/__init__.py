"""GitHub (github.com and Enterprise Server): Actions secrets of an organization or its repositories."""

from targets.adapters.github.adapter import GitHubAdapter

__all__ = ["GitHubAdapter"]
