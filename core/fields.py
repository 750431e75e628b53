"""A model field that holds ciphertext. Values are encrypted by the owner's explicit setter and decrypted only
on explicit demand, so a model instance never carries a plaintext secret in its attributes."""

from django.db import models


class EncryptedTextField(models.TextField):
    """Stores a Fernet token (see :mod:`core.crypto`). ``rotate_encryption_key`` finds every field of this class."""

    description = "Encrypted text (Fernet token)"

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
