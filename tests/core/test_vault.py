import pytest
from cryptography.fernet import Fernet

from core.errors import VaultError
from core.vault import Vault


def test_round_trip_and_ciphertext_hides_the_secret():
    vault = Vault([Fernet.generate_key().decode()])
    token = vault.encrypt({"secret_access_key": "wJalrXUtnFEMI/K7MDENG"})
    assert b"wJalrXUtnFEMI" not in token
    assert vault.decrypt(token) == {"secret_access_key": "wJalrXUtnFEMI/K7MDENG"}


def test_rotation_moves_tokens_to_the_newest_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Vault([old]).encrypt({"k": "v"})
    rotated = Vault([new, old]).rotate(token)
    assert Vault([new]).decrypt(rotated) == {"k": "v"}
    with pytest.raises(VaultError, match="cannot be decrypted"):
        Vault([new]).decrypt(token)


def test_no_keys_is_refused():
    with pytest.raises(VaultError):
        Vault([])
