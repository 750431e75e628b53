"""A PEP 503 simple index in memory, for simulators of package feeds (standard library only).

``SimpleIndex(packages=None)`` holds wheels by project; ``add(name, version)`` builds a minimal valid pure-Python
wheel in memory. ``root_page()``, ``project_page(name, files_base)`` and ``file(filename)`` give what a feed
serves: the root lists every project, a project page links each file with its ``sha256`` fragment (pip checks it),
and ``file`` returns the wheel's bytes or None. Project names are compared normalized (PEP 503: lower case, runs
of ``-_.`` as one ``-``), so ``/simple/Feedkeeper_Probe/`` finds ``feedkeeper-probe``.

A simulator decides who may read; this module only renders.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import threading
import zipfile
from dataclasses import dataclass

__all__ = ["SimpleIndex", "Wheel", "build_wheel", "normalize"]

DEFAULT_PACKAGE = "feedkeeper-probe"
DEFAULT_VERSION = "1.0.0"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Wheel:
    project: str
    version: str
    filename: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def build_wheel(name: str = DEFAULT_PACKAGE, version: str = DEFAULT_VERSION) -> Wheel:
    """A minimal valid pure-Python wheel (``import <name with underscores>`` gives ``VALUE``)."""
    dist = re.sub(r"[-.]+", "_", name)
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": b"VALUE = 'from the private index'\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: feedkeeper-simulator\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for fname, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{fname},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for fname, data in files.items():
            zf.writestr(fname, data)
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return Wheel(name, version, f"{dist}-{version}-py3-none-any.whl", buf.getvalue())


class SimpleIndex:
    """Wheels by normalized project name; thread-safe."""

    def __init__(self, packages: list[tuple[str, str]] | None = None) -> None:
        self._lock = threading.Lock()
        self._projects: dict[str, list[Wheel]] = {}
        for name, version in packages if packages is not None else [(DEFAULT_PACKAGE, DEFAULT_VERSION)]:
            self.add(name, version)

    def add(self, name: str, version: str) -> Wheel:
        wheel = build_wheel(name, version)
        with self._lock:
            self._projects.setdefault(normalize(name), []).append(wheel)
        return wheel

    def projects(self) -> list[str]:
        with self._lock:
            return sorted(self._projects)

    def root_page(self) -> bytes:
        links = "".join(f'<a href="{html.escape(p)}/">{html.escape(p)}</a>\n' for p in self.projects())
        return f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n".encode()

    def project_page(self, name: str, files_base: str) -> bytes | None:
        """The project's page, each file linked as ``files_base + filename``; None for an unknown project."""
        with self._lock:
            wheels = list(self._projects.get(normalize(name), ()))
        if not wheels:
            return None
        links = "".join(
            f'<a href="{html.escape(files_base + w.filename)}#sha256={w.sha256}">{html.escape(w.filename)}</a>\n'
            for w in wheels
        )
        return f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n".encode()

    def file(self, filename: str) -> bytes | None:
        with self._lock:
            for wheels in self._projects.values():
                for w in wheels:
                    if w.filename == filename:
                        return w.data
        return None
