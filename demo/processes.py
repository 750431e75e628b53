"""Child processes of the demo: started in their own process groups, logged to files, stopped together.

Each child runs in a new session, so a Ctrl-C in the terminal reaches only the demo, which then stops the children
in reverse start order (SIGTERM to the child's whole process group, SIGKILL after a grace period). On Linux each
child also gets ``PR_SET_PDEATHSIG``: if the demo itself is killed outright, its children receive SIGTERM.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1


def _pdeathsig() -> Callable[[], None] | None:
    """A preexec function asking the kernel to SIGTERM the child when the demo dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return preexec


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port_run(count: int, host: str = "127.0.0.1") -> int:
    """A port P such that P .. P+count-1 are all free (the Databricks simulator binds one port per workspace)."""
    for _ in range(200):
        port = free_port(host)
        if port + count - 1 < 65536 and all(port_is_free(port + i, host) for i in range(count)):
            return port
    raise RuntimeError(f"No run of {count} free ports found.")


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    expected_exit: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@dataclass
class Supervisor:
    """Starts children with their output in ``log_dir/<name>.log`` and stops them all, newest first."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str], cwd: Path) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("ab", buffering=0)
        proc = subprocess.Popen(
            list(argv),
            cwd=str(cwd),
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_pdeathsig(),  # a single prctl call, nothing else
        )
        child = Child(name=name, argv=list(argv), proc=proc, log_path=log_path, log_file=log_file)
        self.children.append(child)
        return child

    def run(self, name: str, argv: Sequence[str], *, env: dict[str, str], cwd: Path, timeout: float = 300) -> None:
        """Run a one-off command to completion (logged like a child); raise with its output when it fails."""
        child = self.start(name, argv, env=env, cwd=cwd)
        child.expected_exit = True
        try:
            code = child.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._stop_one(child, grace=5)
            raise RuntimeError(f"{name} did not finish in {timeout:.0f}s:\n{child.tail()}") from None
        finally:
            self.children.remove(child)
            child.log_file.close()
        if code != 0:
            raise RuntimeError(f"{name} failed (exit {code}):\n{child.tail()}")

    def dead(self) -> Child | None:
        """The first child that has exited although it should still run, if any."""
        for child in self.children:
            if not child.expected_exit and child.proc.poll() is not None:
                return child
        return None

    def wait_for_line(self, child: Child, pattern: str, timeout: float = 30) -> re.Match[str]:
        """Wait until ``child``'s output has a line matching ``pattern``; raise when it exits or times out."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = regex.search(child.log_text())
            if match:
                return match
            if child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited (code {child.proc.returncode}):\n{child.tail()}")
            time.sleep(0.1)
        raise RuntimeError(f"{child.name} did not print a line matching {pattern!r} in {timeout:.0f}s:\n{child.tail()}")

    def _signal_group(self, child: Child, sig: int) -> None:
        try:
            os.killpg(child.pid, sig)  # the child leads its own session, so its pgid is its pid
        except ProcessLookupError:
            pass
        except PermissionError:
            child.proc.send_signal(sig)

    def _stop_one(self, child: Child, grace: float) -> None:
        if child.proc.poll() is None:
            self._signal_group(child, signal.SIGTERM)
            try:
                child.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal_group(child, signal.SIGKILL)
                child.proc.wait(timeout=5)
        # Leftovers of the group (for example gunicorn workers) must not outlive their master.
        self._signal_group(child, signal.SIGKILL)

    def stop_all(self, grace: float = 10, say: Callable[[str], None] = print) -> None:
        """SIGTERM each child's process group, newest first (web, worker and beat before the services they use)."""
        for child in reversed(self.children):
            running = child.proc.poll() is None
            if running:
                say(f"  stopping {child.name} (pid {child.pid})")
            self._stop_one(child, grace)
            child.log_file.close()
        self.children.clear()


def procfile_commands(procfile: Path, env: dict[str, str]) -> dict[str, list[str]]:
    """The Procfile's ``name: command`` lines with ``${VAR}`` expanded from ``env``, split into argv lists."""

    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in env:
            raise RuntimeError(f"Procfile uses ${{{name}}}, which is not set.")
        return env[name]

    commands: dict[str, list[str]] = {}
    for line in procfile.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, command = line.split(":", 1)
        command = re.sub(r"\$\{(\w+)\}|\$(\w+)", expand, command.strip())
        commands[name.strip()] = shlex.split(command)
    return commands
