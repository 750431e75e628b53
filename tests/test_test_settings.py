"""The test settings leave no folder behind: a process that imports them without an inherited run folder creates
one and removes it when it exits; a process that inherits one (a worker subprocess) creates none and removes
nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRINT_RUN_DIR = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.TEST_RUN_DIR); assert settings.TEST_RUN_DIR.is_dir()"
)


def _import_settings(tmp: Path, **extra: str) -> Path:
    env = {k: v for k, v in os.environ.items() if k != "FEEDKEEPER_TEST_RUN_DIR"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", TMPDIR=str(tmp), **extra)
    done = subprocess.run(
        [sys.executable, "-c", PRINT_RUN_DIR], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


def test_a_process_that_creates_the_run_folder_removes_it_when_it_exits(tmp_path: Path) -> None:
    run_dir = _import_settings(tmp_path)
    assert run_dir.parent == tmp_path and run_dir.name.startswith("feedkeeper-tests-")
    assert not run_dir.exists() and list(tmp_path.iterdir()) == []


def test_a_process_that_inherits_the_run_folder_neither_creates_nor_removes_one(tmp_path: Path) -> None:
    inherited = tmp_path / "run"
    inherited.mkdir()
    assert _import_settings(tmp_path, FEEDKEEPER_TEST_RUN_DIR=str(inherited)) == inherited
    assert inherited.is_dir() and list(tmp_path.iterdir()) == [inherited]


def test_the_settings_the_type_checker_loads_create_no_folder(tmp_path: Path) -> None:
    """mypy's Django plugin imports the settings named in pyproject.toml and ends with ``os._exit`` (no atexit):
    whatever those settings create stays behind, once per type-check run."""
    import tomllib

    module = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["django-stubs"]["django_settings_module"]
    env = {k: v for k, v in os.environ.items() if k != "FEEDKEEPER_TEST_RUN_DIR"}
    env.update(DJANGO_SETTINGS_MODULE=module, TMPDIR=str(tmp_path))
    code = "import os, django; django.setup(); os._exit(0)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []
