"""Helpers for canary tests and for proving a delivered URL works with pip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.db import connection


def database_dump() -> str:
    """Every row of every table, as text (to prove no secret is stored in plain text)."""
    lines = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            lines.extend(f"{table}: {row!r}" for row in cursor.fetchall())
    return "\n".join(lines)


def pip_download(index_url: str, package: str, dest: Path) -> subprocess.CompletedProcess[str]:
    """Run a real ``pip download`` of ``package`` from ``index_url`` (credentials inside), isolated from any
    pip configuration of the machine."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            index_url,
            "-d",
            str(dest),
            package,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null"},
    )
