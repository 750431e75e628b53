"""`manage.py check --deploy` is clean with the production settings, the required environment and the new
security settings set, including the database checks (the key canaries) on a migrated database; and a wrong key
makes the same command fail with the key check's message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from simulators.azure_devops.crypto import make_tls_material
from tests.test_deploy import ROOT, production_env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_check_deploy_is_clean_with_the_security_settings_and_fails_on_a_wrong_key(tmp_path: Path) -> None:
    material = make_tls_material(("artifactory.corp.example",))
    ca = tmp_path / "corporate-ca.pem"
    ca.write_text(Path(material.ca_path).read_text())
    material.cleanup()
    key = Fernet.generate_key().decode()
    env = production_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        DATA_DIR=str(tmp_path),
        FIELD_ENCRYPTION_KEYS=key,
        PRIVATE_NETWORK_HOSTS="artifactory.corp.example",
        CA_BUNDLE=str(ca),
        API_RATE_LIMIT="600/minute",
        EXPENSIVE_RATE_LIMIT="30/minute",
        API_TOKEN_DEFAULT_DAYS="30",
        API_TOKEN_MAX_DAYS="90",
    )
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    # The first start records the key canaries (what web, worker and beat do through core.keycheck).
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from core.keycheck import verify_keys; verify_keys()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    result = manage("check", "--deploy", "--database", "default", "--fail-level", "WARNING", env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "(0 silenced)" in output, output

    env["FIELD_ENCRYPTION_KEYS"] = f"{key},{Fernet.generate_key().decode()}"
    broken = manage("check", "--deploy", "--database", "default", env=env)
    assert broken.returncode != 0
    assert "feedkeeper.E002" in broken.stderr and "entry 2 is wrong" in broken.stderr
    served = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert served.returncode != 0
    assert "Feedkeeper will not start" in served.stderr and "entry 2 is wrong" in served.stderr


def test_a_ca_bundle_that_cannot_be_loaded_fails_the_check(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("not a certificate")
    result = manage("check", env=production_env(CA_BUNDLE=str(broken), DATA_DIR=str(tmp_path)))
    assert result.returncode != 0 and "feedkeeper.E003" in result.stderr
