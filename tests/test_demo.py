"""`make demo`'s platform plug-ins (demo/platform.py and simulators/<kind>/demo.py): discovery from the target
registry, banner and smoke-test lines built from each platform's info alone, and seeding every platform's targets
and deliveries through the services layer against the simulators run in-process."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.banner import Endpoints, banner, smoke_command
from demo.platform import DEMO_FEED, DemoPlatform, Running, SeedContext, discover, module_name
from demo.seed import Login, Seeded, seed, user_named
from demo.services import Index
from simulators.databricks import DEFAULT_TOKEN as DATABRICKS_TOKEN
from simulators.databricks import DatabricksSimulator
from simulators.github import GitHubSimulator
from simulators.valohai import ValohaiSimulator
from targets.adapters import REGISTRY
from targets.models import Delivery, Target

PLATFORMS = discover(list(REGISTRY))
INDEX = Index(url="http://127.0.0.1:9/simple/", username="demo-reader", token="pypi-test-token", package="acme-utils")


def _fake_info(platform: DemoPlatform[Any], tag: str) -> Any:
    """The platform's info with a distinct made-up value in every field (``tag`` makes two of them differ)."""
    info_type = platform.info_type()
    hints = typing.get_type_hints(info_type)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(info_type):
        if typing.get_origin(hints[f.name]) is list:
            values[f.name] = [f"http://{tag}-{f.name}-{i}.test" for i in range(3)]
        elif hints[f.name] is str:
            values[f.name] = f"http://{tag}-{f.name}.test" if f.name == "url" else f"{tag}-{f.name}"
        else:
            raise AssertionError(f"{info_type.__name__}.{f.name}: a field type this test does not fill in")
    return info_type(**values)


def _placeholders(info: Any) -> list[tuple[str, str]]:
    """(value, placeholder) for every value of ``info``, longest first."""
    pairs = []
    for f in dataclasses.fields(info):
        value = getattr(info, f.name)
        if isinstance(value, list):
            pairs += [(v, f"<{f.name}[{i}]>") for i, v in enumerate(value)]
        else:
            pairs.append((value, f"<{f.name}>"))
    return sorted(pairs, key=lambda p: -len(p[0]))


def _template(text: str, info: Any) -> str:
    for value, placeholder in _placeholders(info):
        text = text.replace(value, placeholder)
    return text


def _urls(info: Any) -> list[str]:
    return [u for f in ("url", "urls") if hasattr(info, f) for u in ([getattr(info, f)] if f == "url" else info.urls)]


# --- discovery --------------------------------------------------------------------------------------------------
def test_discovery_finds_one_demo_platform_per_registered_kind_that_has_a_simulator_demo_module() -> None:
    with_demo = [kind for kind in REGISTRY if importlib.util.find_spec(module_name(kind)) is not None]
    found = discover()
    assert [p.kind for p in found] == with_demo
    assert {"databricks", "valohai", "github"} <= set(with_demo)
    assert all(isinstance(p, DemoPlatform) for p in found)
    assert len({p.process_name for p in found}) == len(found)


def test_discovery_skips_a_kind_without_a_demo_module() -> None:
    assert [p.kind for p in discover(["databricks", "no-such-platform"])] == ["databricks"]


def test_discovery_refuses_a_demo_module_without_a_platform_of_its_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("simulators.fakeplatform.demo")
    module.PLATFORM = PLATFORMS[0]  # type: ignore[attr-defined]  # a platform of another kind
    monkeypatch.setitem(sys.modules, "simulators.fakeplatform", types.ModuleType("simulators.fakeplatform"))
    monkeypatch.setitem(sys.modules, "simulators.fakeplatform.demo", module)
    with pytest.raises(RuntimeError, match="PLATFORM"):
        discover(["fakeplatform"])


# --- banner and smoke test ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("platform", PLATFORMS, ids=[p.kind for p in PLATFORMS])
def test_smoke_args_name_the_platforms_url_and_hold_only_values_of_its_info(platform: DemoPlatform[Any]) -> None:
    info = _fake_info(platform, "aaa")
    args = platform.smoke_args(info)
    values = {v for v, _ in _placeholders(info)}
    flags, given = args[::2], args[1::2]
    assert len(flags) == len(given) and all(f.startswith(f"--{platform.kind}-") for f in flags)
    assert f"--{platform.kind}-url" in flags and given[flags.index(f"--{platform.kind}-url")] in _urls(info)
    assert set(given) <= values


@pytest.mark.parametrize("platform", PLATFORMS, ids=[p.kind for p in PLATFORMS])
def test_banner_lines_show_the_platforms_url_and_nothing_that_is_not_in_its_info(platform: DemoPlatform[Any]) -> None:
    one, other = _fake_info(platform, "aaa"), _fake_info(platform, "bbb")
    lines = platform.banner_lines(one)
    assert any(url in line for url in _urls(one) for line in lines)
    # Apart from the info's values, the lines are the same text whatever the info: nothing else varies.
    assert [_template(line, one) for line in lines] == [_template(line, other) for line in platform.banner_lines(other)]
    assert "aaa" not in "".join(_template(line, one) for line in lines)


def test_the_banner_and_its_smoke_command_carry_every_platforms_lines_and_arguments() -> None:
    running = [Running(p, _fake_info(p, "aaa")) for p in PLATFORMS]
    ep = Endpoints(
        dashboard="http://127.0.0.1:8000/", index=INDEX, platforms=running, data_dir=Path("/tmp/demo"), backend="x"
    )
    login = Login(username="admin", password="pw", api_token="fk_token")
    text = banner(ep, login, Seeded(notes=["a note"]))
    command = smoke_command(ep, login)
    for r in running:
        assert all(line in text for line in r.banner_lines())
        assert " ".join(r.smoke_args()) in command
    assert "Note: a note" in text and command in text
    assert command.split()[1].endswith("contract_smoke.py")


# --- seeding against the simulators, in-process -----------------------------------------------------------------
@pytest.fixture
def infos() -> Iterator[dict[str, Any]]:
    """Each platform's info, prepared by its demo module against its simulator run in-process as the demo runs
    it (Databricks: two workspaces of four clusters; Valohai: acme with five projects; GitHub: acme, 3 repos)."""
    from simulators.databricks import demo as databricks_demo
    from simulators.github import demo as github_demo
    from simulators.valohai import demo as valohai_demo

    with (
        DatabricksSimulator(workspaces=2, clusters=4) as dbx,
        ValohaiSimulator() as vh,
        GitHubSimulator() as gh,
    ):
        vh.add_organization("acme")
        for i in range(1, 6):
            vh.add_project("acme", f"project-{i}")
        for i in range(1, 4):
            gh.add_repo("acme", f"repo-{i}")
        yield {
            "databricks": databricks_demo.prepare(dbx.urls, DATABRICKS_TOKEN),
            "valohai": valohai_demo.prepare(vh.url, "vh-sim-token", ["acme"]),
            "github": github_demo.prepare(gh.api_url, "ghp-sim-token", "acme"),
        }


def test_seeding_creates_each_platforms_targets_and_deliveries_through_the_services_layer(
    admin: Any, infos: dict[str, Any]
) -> None:
    running = [Running(p, infos[p.kind]) for p in PLATFORMS]
    said: list[str] = []
    seeded = seed(username=admin.username, index=INDEX, platforms=running, say=said.append, settle_timeout=0)

    assert seeded.notes == []
    assert set(seeded.feeds) == {DEMO_FEED, "legacy-feed"}
    assert sorted((t.name, t.kind) for t in Target.objects.all()) == [
        ("databricks-analytics", "databricks"),
        ("databricks-ml", "databricks"),
        ("github-acme", "github"),
        ("valohai-acme", "valohai"),
    ]
    assert sorted((d.target.name, d.mode) for d in seeded.deliveries) == [
        ("databricks-analytics", "secret"),
        ("databricks-analytics", "workspace_default"),
        ("databricks-ml", "workspace_default"),
        ("github-acme", "actions_org_secret"),
        ("valohai-acme", "project_variable"),
    ]
    assert all(d.feed.name == DEMO_FEED for d in seeded.deliveries)
    github = Delivery.objects.get(target__name="github-acme")
    assert (github.cfg.visibility, github.cfg.repositories) == ("selected", ["repo-1", "repo-2"])
    secret = Delivery.objects.get(target__name="databricks-analytics", mode="secret")
    assert secret.cfg.clusters == [infos["databricks"].cluster_id]
    assert len(said) == 1 + len(running) + 1  # the feeds, one line per platform, the deliveries


def test_a_platforms_seed_creates_its_targets_at_once_and_only_plans_its_deliveries(
    admin: Any, infos: dict[str, Any]
) -> None:
    from feeds.services import feed_create

    feed = feed_create(actor=admin, name=DEMO_FEED, kind="generic", index_url=INDEX.url, token="t0ken-value")
    ctx = SeedContext(actor=user_named(admin.username), feeds={DEMO_FEED: feed})
    github = next(p for p in PLATFORMS if p.kind == "github")
    line = github.seed(ctx, infos["github"]).line

    assert "github-acme" in line and list(ctx.targets) == ["github-acme"]
    assert not Delivery.objects.exists() and len(ctx.planned) == 1
    created = ctx.create_planned()
    assert [d.location for d in created] == ["org-secret:PIP_INDEX_URL"] and ctx.planned == []
