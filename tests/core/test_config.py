import os
import stat

import pytest

from core.config import load_settings
from core.errors import ConfigError


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "CREDENTIAL_ENCRYPTION_KEYS", "LOGLYTICS_HOME", "LOG_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOGLYTICS_HOME", str(tmp_path / "home"))
    return monkeypatch


def test_embedded_mode_generates_a_key_once_with_mode_0600(clean_env, tmp_path):
    settings = load_settings()
    assert settings.embedded
    first = settings.fernet_keys()
    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert load_settings().fernet_keys() == first


def test_database_url_requires_keys(clean_env):
    clean_env.setenv("DATABASE_URL", "postgresql://u@localhost/db")
    with pytest.raises(ConfigError, match="CREDENTIAL_ENCRYPTION_KEYS is required.*loglytics keys generate"):
        load_settings().fernet_keys()


def test_malformed_key_names_the_variable_and_the_fix(clean_env):
    clean_env.setenv("CREDENTIAL_ENCRYPTION_KEYS", "not-a-key")
    with pytest.raises(ConfigError) as info:
        load_settings().fernet_keys()
    message = str(info.value)
    assert message.startswith("CREDENTIAL_ENCRYPTION_KEYS: key #1 is not a valid Fernet key")
    assert "loglytics keys generate" in message
    assert "\n" not in message


def test_malformed_database_url_is_one_line(clean_env):
    clean_env.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith("DATABASE_URL: ")
    assert "\n" not in str(info.value)


def test_bad_retention_is_named(clean_env):
    clean_env.setenv("LOG_RETENTION_DAYS", "zero")
    with pytest.raises(ConfigError, match="^LOG_RETENTION_DAYS: "):
        load_settings()


def test_dotenv_file_is_read(clean_env, tmp_path):
    (tmp_path / ".env").write_text("LOG_RETENTION_DAYS=30\n")
    assert load_settings().log_retention_days == 30
