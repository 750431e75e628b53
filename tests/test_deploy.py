"""The deployment files agree with the code: docker-compose.yml, the Dockerfile, .env.example and the README's
configuration table name the settings the code reads, run real modules, and production refuses to start without
its secrets. No Docker engine is needed: the files are parsed and the settings are loaded in subprocesses."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from celery.app.utils import find_app
from cryptography.fernet import Fernet
from django.conf import settings
from django.urls import resolve
from kombu.utils.imports import symbol_by_name

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_DIR = ROOT / "config" / "settings"
APP_SERVICES = ("web", "worker", "beat")
PRODUCTION = "config.settings.production"
REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "FINGERPRINT_KEY", "ALLOWED_HOSTS")
# Read outside config/settings: the Makefile and Procfile (where `make run` serves, worker threads) and Django's
# createsuperuser / our bootstrap command (the first admin).
OTHER_USER_SETTINGS = {
    "HOST",
    "PORT",
    "WORKER_CONCURRENCY",
    "WORKER_PROCESSES",
    "DJANGO_SUPERUSER_USERNAME",
    "DJANGO_SUPERUSER_PASSWORD",
    "DJANGO_SUPERUSER_EMAIL",
}

_ENV_CALL = re.compile(r"\benv\.[a-z_]+\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
_REQUIRED_CALL = re.compile(r"\b_required\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
_COMPOSE_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")


def settings_env_names() -> set[str]:
    """Every environment variable the base and production settings read."""
    names: set[str] = set()
    for module in ("base.py", "production.py"):
        text = (SETTINGS_DIR / module).read_text()
        names |= set(_ENV_CALL.findall(text)) | set(_REQUIRED_CALL.findall(text))
    return names


def required_in_production() -> set[str]:
    return set(_REQUIRED_CALL.findall((SETTINGS_DIR / "production.py").read_text()))


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert name in services, f"docker-compose.yml has no {name} service"
    return services[name]  # type: ignore[no-any-return]


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command_words(name: str) -> list[str]:
    """The service's command as words; ``sh -c "a && b"`` gives the words of the script."""
    command = service(name).get("command")
    assert command, f"the {name} service has no command"
    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
    if words[:2] == ["sh", "-c"]:
        words = shlex.split(words[2])
    return words


def interpolated(value: str) -> str:
    """A compose value with ``${VAR...}`` replaced by a placeholder, as compose would with VAR set."""
    return re.sub(r"\$\{([A-Z][A-Z0-9_]*)[^}]*\}", lambda m: f"x{m.group(1).lower().replace('_', '')}", value)


def env_example_names() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))


def readme_configuration_names() -> set[str]:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## Configuration\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no '## Configuration' section"
    return set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", match.group(1), re.MULTILINE))


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def production_env(**overrides: str) -> dict[str, str]:
    """A clean environment for the production settings. Empty values also win over a developer's ``.env``
    (django-environ never overrides a variable that is set)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": PRODUCTION,
        "PYTHONDONTWRITEBYTECODE": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "FINGERPRINT_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "feedkeeper.example.com",
        # Loading settings and the system checks never connect; these keep a developer's .env out of the way.
        "DATABASE_URL": "sqlite:///:memory:",
        "REDIS_URL": "",
    }
    env.update(overrides)
    return env


# --- Settings read from the environment ---------------------------------------------------------------------------


def test_the_settings_scan_finds_the_settings_it_should() -> None:
    names = settings_env_names()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PLAIN_HTTP_HOSTS", "SECURE_SSL_REDIRECT"} <= names
    assert required_in_production() == set(REQUIRED_IN_PRODUCTION)


def test_every_setting_read_from_the_environment_is_in_env_example() -> None:
    missing = (settings_env_names() | OTHER_USER_SETTINGS) - env_example_names()
    assert not missing, f".env.example does not list {sorted(missing)}"


def test_every_setting_read_from_the_environment_is_in_the_readme_configuration_table() -> None:
    missing = (settings_env_names() | OTHER_USER_SETTINGS) - readme_configuration_names()
    assert not missing, f"README.md's configuration table does not list {sorted(missing)}"


def test_every_variable_docker_compose_interpolates_is_in_env_example_and_the_readme() -> None:
    variables = set(_COMPOSE_VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    assert {"SECRET_KEY", "POSTGRES_PASSWORD"} <= variables
    assert not variables - env_example_names(), f".env.example lacks {sorted(variables - env_example_names())}"
    missing = variables - readme_configuration_names()
    assert not missing, f"README.md's configuration table lacks {sorted(missing)}"


def test_copying_env_example_to_env_changes_nothing() -> None:
    """base.py reads .env, so an uncommented empty ALLOWED_HOSTS= would lock `make run` out."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    active = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert not active, f".env.example sets values: {active}"


# --- docker-compose.yml -------------------------------------------------------------------------------------------


def test_compose_has_the_five_services() -> None:
    assert set(compose()["services"]) == {"web", "worker", "beat", "db", "redis"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_an_app_service_runs_the_production_settings_with_every_required_secret_from_the_env_file(name: str) -> None:
    env = environment(name)
    assert env.get("DJANGO_SETTINGS_MODULE") == PRODUCTION
    for variable in required_in_production():
        assert variable in env, f"{name} does not get {variable}"
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable]), (
            f"{name}'s {variable} must come from the env file as ${{{variable}:?message}}, not {env[variable]!r}"
        )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_an_app_service_gets_only_environment_names_the_settings_read(name: str) -> None:
    unknown = set(environment(name)) - settings_env_names() - {"DJANGO_SETTINGS_MODULE"}
    assert not unknown, f"{name} sets {sorted(unknown)}, which no setting reads (a typo?)"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_an_app_service_uses_the_db_service_for_database_url(name: str) -> None:
    url = environment(name)["DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in url, "the database password must come from the env file"
    parts = urlsplit(interpolated(url))
    db_env = environment("db")
    assert parts.scheme in ("postgres", "postgresql")
    assert parts.hostname == "db" and (parts.port or 5432) == 5432
    assert parts.username == db_env["POSTGRES_USER"]
    assert parts.path == f"/{db_env['POSTGRES_DB']}"
    assert db_env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_an_app_service_uses_the_redis_service_for_redis_url(name: str) -> None:
    parts = urlsplit(interpolated(environment(name)["REDIS_URL"]))
    assert parts.scheme == "redis" and parts.hostname == "redis" and (parts.port or 6379) == 6379


@pytest.mark.parametrize("name", APP_SERVICES)
def test_an_app_service_starts_only_once_db_and_redis_are_healthy(name: str) -> None:
    depends = service(name).get("depends_on")
    assert isinstance(depends, dict), f"{name}.depends_on must use conditions"
    for dependency in ("db", "redis"):
        assert depends.get(dependency, {}).get("condition") == "service_healthy", f"{name} -> {dependency}"


def test_db_and_redis_are_postgres_16_and_redis_7_with_healthchecks() -> None:
    db, redis = service("db"), service("redis")
    assert db["image"].startswith("postgres:16")
    assert redis["image"].startswith("redis:7")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"]) and "ping" in " ".join(redis["healthcheck"]["test"])


def test_web_migrates_and_then_serves_the_wsgi_application_with_gunicorn() -> None:
    words = command_words("web")
    assert "migrate" in words and words[words.index("migrate") - 1] == "manage.py"
    gunicorn = words.index("gunicorn")
    assert words.index("migrate") < gunicorn
    target = words[gunicorn + 1]
    assert f"{target}.application" == settings.WSGI_APPLICATION
    assert (ROOT / Path(*target.split("."))).with_suffix(".py").is_file()


def test_web_has_an_http_healthcheck_on_healthz_at_the_port_gunicorn_binds() -> None:
    words = command_words("web")
    bind = words[words.index("--bind") + 1]
    port = bind.rsplit(":", 1)[1]
    test = " ".join(service("web")["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/healthz" in test
    assert resolve("/healthz").url_name == "healthz"
    # /healthz must answer plain http even though production redirects everything else to https.
    assert any(re.search(p, "healthz") for p in _production_setting("SECURE_REDIRECT_EXEMPT"))


def test_worker_runs_the_config_celery_app_on_a_threads_pool() -> None:
    words = command_words("worker")
    assert words[0] == "celery" and words[words.index("-A") + 1] == "config" and "worker" in words
    assert words[words.index("--pool") + 1] == "threads"
    assert find_app("config").main == "feedkeeper"


def test_beat_runs_the_database_scheduler_the_settings_name() -> None:
    words = command_words("beat")
    assert words[0] == "celery" and words[words.index("-A") + 1] == "config" and "beat" in words
    scheduler = words[words.index("--scheduler") + 1]
    assert scheduler == settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"
    assert symbol_by_name(scheduler).__name__ == "DatabaseScheduler"


# --- Dockerfile ---------------------------------------------------------------------------------------------------


def test_the_dockerfile_builds_from_python_311_slim_installs_the_pins_and_collects_static() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert any("pip install -r requirements.txt" in r for r in runs)
    assert any("manage.py collectstatic --noinput" in r for r in runs)
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert f"DJANGO_SETTINGS_MODULE={PRODUCTION}" in env


def test_the_dockerfile_runs_as_a_user_other_than_root() -> None:
    users = [rest for keyword, rest in dockerfile_instructions() if keyword == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")


def test_the_dockerfile_entry_is_the_gunicorn_command_web_runs() -> None:
    cmd = json.loads(next(rest for keyword, rest in dockerfile_instructions() if keyword == "CMD"))
    assert cmd[:2] == ["gunicorn", "config.wsgi"]
    words = command_words("web")
    assert words[words.index("gunicorn") :] == cmd


def test_docker_ignores_local_state_and_secrets() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", "var", ".git"} <= ignored


# --- Production settings ------------------------------------------------------------------------------------------


def _production_setting(name: str) -> Any:
    code = f"import json, django; django.setup(); from django.conf import settings; print(json.dumps(settings.{name}))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("variable", REQUIRED_IN_PRODUCTION)
def test_production_refuses_to_start_without(variable: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=production_env(**{variable: ""}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert variable in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_production_passes_the_deploy_checks_with_nothing_silenced() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "(0 silenced)" in output, output
    assert _production_setting("SILENCED_SYSTEM_CHECKS") == []
    # drf-spectacular's deploy check (the API schema builds without warnings) stays on too.
    assert _production_setting("SPECTACULAR_SETTINGS").get("ENABLE_DJANGO_DEPLOY_CHECK", True) is True
