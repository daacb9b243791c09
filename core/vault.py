"""Credential vault: secrets are stored only as MultiFernet tokens (newest key encrypts)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import VaultError
from core.redact import register_secret_values


def reveal(model: Any) -> dict[str, Any]:
    """A validated secret model as a plain dict (SecretStr revealed, unset fields left out), to encrypt."""
    return {key: value.get_secret_value() if hasattr(value, "get_secret_value") else value
            for key, value in model if value is not None}


def generate_key() -> str:
    return Fernet.generate_key().decode()


class Vault:
    """Encrypts with the first (newest) key; decrypts with any configured key."""

    def __init__(self, keys: list[str]):
        if not keys:
            raise VaultError("no encryption key configured (CREDENTIAL_ENCRYPTION_KEYS)")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, secret: dict[str, Any]) -> bytes:
        register_secret_values([secret])
        return self._fernet.encrypt(json.dumps(secret, separators=(",", ":")).encode())

    def decrypt(self, token: bytes) -> dict[str, Any]:
        try:
            secret = json.loads(self._fernet.decrypt(bytes(token)))
        except InvalidToken:
            raise VaultError(
                "a stored secret cannot be decrypted with the configured keys; "
                "keep the old key in CREDENTIAL_ENCRYPTION_KEYS (after the new one) until `loglytics keys rotate` ran"
            ) from None
        register_secret_values([secret])  # from now on this process masks these values wherever they appear
        return secret

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt a token with the newest key."""
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken:
            raise VaultError("a stored secret cannot be decrypted with the configured keys") from None
