"""Local key material for `make run`: generated once into DATA_DIR, with a warning. Never used in production."""

import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path.read_text().strip()
    value = make()
    # Create exclusively so two processes starting together agree on one key.
    try:
        with path.open("x") as fh:
            fh.write(value + "\n")
        path.chmod(0o600)
    except FileExistsError:
        return path.read_text().strip()
    return value


def local_encryption_keys(data_dir: Path) -> list[str]:
    """The local Fernet key list, generating a key into ``DATA_DIR/encryption.key`` the first time."""
    path = data_dir / "encryption.key"
    if not path.exists():
        print(
            f"WARNING: FIELD_ENCRYPTION_KEYS is not set; generating a local key in {path}. "
            "Back it up: without it the stored tokens cannot be decrypted.",
            file=sys.stderr,
        )
    key = _read_or_create(path, lambda: Fernet.generate_key().decode())
    return [key]


def local_secret_key(data_dir: Path) -> str:
    """A local Django SECRET_KEY kept in ``DATA_DIR/secret.key``."""
    return _read_or_create(data_dir / "secret.key", lambda: secrets.token_urlsafe(50))


def local_fingerprint_key(data_dir: Path) -> str:
    """A local ``FINGERPRINT_KEY`` kept in ``DATA_DIR/fingerprint.key``."""
    return _read_or_create(data_dir / "fingerprint.key", lambda: secrets.token_urlsafe(50))
