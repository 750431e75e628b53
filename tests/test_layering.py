"""The apps' layering, read from the source with ``ast`` (every import, also those inside functions):

- ``core`` is a leaf: it imports no other app of the project;
- ``feeds`` imports nothing from ``targets`` (targets follow feeds through ``feeds.hooks``) or ``rotations``, nor
  the audit pages or API, nor ``dashboard``; ``targets`` imports nothing from ``rotations`` (rotations build on both);
- ``feeds``, ``targets`` and ``rotations`` import nothing from ``notifications`` (it follows their hooks and signals);
- ``feeds`` and ``targets`` import nothing from ``findings`` (it builds on both);
- no template tag module imports views or forms.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = sorted(p.parent.name for p in ROOT.glob("*/apps.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str | None = None) -> Iterator[tuple[int, str]]:
    """``(line, dotted module)`` for every import in ``path`` (the module ``module``, by default named by its
    place under the project); ``from a import b`` yields ``a`` and ``a.b``; relative imports are resolved."""
    package = (module or _module_name(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def sources(app: str) -> list[Path]:
    return sorted(p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


def offending(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in paths
        for line, name in imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_the_apps_are_found() -> None:
    assert {"core", "audit", "feeds", "targets", "dashboard"} <= set(APPS)


def test_core_imports_no_other_app() -> None:
    others = tuple(a for a in APPS if a != "core")
    assert offending(sources("core"), others) == []


def test_feeds_imports_nothing_from_targets_nor_the_audit_pages() -> None:
    forbidden = ("targets", "rotations", "dashboard", "audit.views", "audit.api", "audit.urls")
    assert offending(sources("feeds"), forbidden) == []


def test_rotations_build_on_feeds_and_targets_never_the_reverse() -> None:
    assert offending(sources("targets"), ("rotations",)) == []
    assert offending(sources("rotations"), ("dashboard",)) == []


def test_feeds_targets_and_rotations_never_import_notifications() -> None:
    """They emit through hooks and signals that ``notifications`` connects in its ``AppConfig.ready()``."""
    for app in ("feeds", "targets", "rotations"):
        assert offending(sources(app), ("notifications",)) == []


def test_feeds_and_targets_never_import_findings() -> None:
    """Adapters return plain ``ScanSource`` dataclasses; ``findings`` turns them into rows and follows targets'
    signals."""
    for app in ("feeds", "targets"):
        assert offending(sources(app), ("findings",)) == []


@pytest.mark.parametrize("app", APPS)
def test_no_template_tag_module_imports_views_or_forms(app: str) -> None:
    tags = sorted((ROOT / app).glob("templatetags/*.py"))
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in tags
        for line, name in imports(path)
        if name.split(".")[0] in APPS and {"views", "forms"} & set(name.split(".")[1:])
    ]
    assert bad == []


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    sample = tmp_path / "sample_tags.py"
    sample.write_text("import os\n\ndef f():\n    from targets.views import x\n    from ..forms import Y\n")
    found = {name for _, name in imports(sample, "targets.templatetags.sample_tags")}
    assert {"os", "targets.views", "targets.views.x", "targets.forms", "targets.forms.Y"} <= found
