"""A real private index for tests: pypiserver with an htpasswd file, on loopback, holding one small wheel."""

from __future__ import annotations

import base64
import hashlib
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from passlib.apache import HtpasswdFile

# The token has every character that needs percent-encoding inside a URL's userinfo.
INDEX_USER = "feed-user@example.com"
INDEX_TOKEN = "p@ss:w/rd%#?&= x+"
PACKAGE = "feedkeeper-probe"
PACKAGE_VERSION = "1.0.0"


@dataclass(frozen=True)
class PrivateIndex:
    url: str  # the simple index URL, no credentials
    username: str
    token: str
    package: str
    htpasswd: Path

    def add_user(self, username: str, password: str) -> None:
        ht = HtpasswdFile(str(self.htpasswd))
        ht.set_password(username, password)
        ht.save()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_wheel(directory: Path, name: str = PACKAGE, version: str = PACKAGE_VERSION) -> Path:
    """A minimal valid pure-Python wheel, written by hand (no build backend needed)."""
    dist = name.replace("-", "_")
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    files = {
        f"{dist}/__init__.py": b"VALUE = 'from the private index'\n",
        f"{dist}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}-{version}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: feedkeeper-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record_lines = []
    for fname, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{fname},sha256={digest},{len(data)}")
    record_lines.append(f"{dist}-{version}.dist-info/RECORD,,")
    with zipfile.ZipFile(path, "w") as zf:
        for fname, data in files.items():
            zf.writestr(fname, data)
        zf.writestr(f"{dist}-{version}.dist-info/RECORD", "\n".join(record_lines) + "\n")
    return path


def prepare_index(
    root: Path, username: str, token: str, *, name: str = PACKAGE, version: str = PACKAGE_VERSION
) -> tuple[int, list[str]]:
    """Lay out a private index under ``root`` (one wheel, an htpasswd file with ``username:token``) and return a
    free port and the pypiserver command line that serves it there, requiring the credential for everything."""
    packages = root / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    build_wheel(packages, name=name, version=version)
    htpasswd = root / "htpasswd"
    ht = HtpasswdFile(str(htpasswd), new=True)
    ht.set_password(username, token)
    ht.save()
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "pypiserver",
        "run",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-P",
        str(htpasswd),
        "-a",
        "download,list,update",
        "--disable-fallback",
        str(packages),
    ]
    return port, argv


@pytest.fixture(scope="session")
def private_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateIndex]:
    root = tmp_path_factory.mktemp("pypi")
    port, argv = prepare_index(root, INDEX_USER, INDEX_TOKEN)
    htpasswd = root / "htpasswd"
    log = (root / "pypiserver.log").open("w")
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/simple/"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code in (200, 401):
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("pypiserver did not start: " + (root / "pypiserver.log").read_text()[-2000:])
    yield PrivateIndex(url=url, username=INDEX_USER, token=INDEX_TOKEN, package=PACKAGE, htpasswd=htpasswd)
    proc.terminate()
    proc.wait(timeout=10)
    log.close()
