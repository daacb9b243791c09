"""Settings: the only reader of the environment (and of an optional ``.env``).

A missing or malformed value stops start-up with one line naming the variable and the fix.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

KEY_HELP = "generate one with: loglytics keys generate"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str | None = Field(None, description="PostgreSQL URL; unset = embedded server under LOGLYTICS_HOME.")
    loglytics_home: Path = Field(Path(".loglytics"), description="Data folder of the embedded mode.")
    credential_encryption_keys: str | None = Field(None, description="Comma-separated Fernet keys, newest first.")
    log_retention_days: int = Field(14, ge=1, le=3650)
    admin_password: str | None = Field(None, alias="LOGLYTICS_ADMIN_PASSWORD")
    dashboard_port: int = Field(8501, alias="LOGLYTICS_DASHBOARD_PORT", ge=1, le=65535)
    dashboard_url: str = Field("http://localhost:8501", alias="LOGLYTICS_DASHBOARD_URL")
    session_idle_minutes: int = Field(60, alias="LOGLYTICS_SESSION_IDLE_MINUTES", ge=1)
    log_level: str = Field("INFO", alias="LOGLYTICS_LOG_LEVEL")
    worker_lease_s: float = Field(15.0, alias="LOGLYTICS_WORKER_LEASE_S", ge=2)

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ValueError("must start with postgresql:// (e.g. postgresql://user:pass@host:5432/loglytics)")
        return value.strip()

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def pgdata(self) -> Path:
        return self.loglytics_home.resolve() / "pgdata"

    @property
    def key_file(self) -> Path:
        return self.loglytics_home.resolve() / "secret.key"

    def fernet_keys(self) -> list[str]:
        """The configured keys, newest first. Embedded mode generates one once (mode 0600)."""
        raw = self.credential_encryption_keys
        if not raw or not raw.strip():
            if not self.embedded:
                raise ConfigError(
                    "CREDENTIAL_ENCRYPTION_KEYS is required when DATABASE_URL is set; " + KEY_HELP
                )
            raw = _read_or_create_key_file(self.key_file)
        keys = [k.strip() for k in raw.split(",") if k.strip()]
        for index, key in enumerate(keys):
            try:
                Fernet(key.encode())
            except (ValueError, TypeError):
                raise ConfigError(
                    f"CREDENTIAL_ENCRYPTION_KEYS: key #{index + 1} is not a valid Fernet key; {KEY_HELP}"
                ) from None
        return keys


def _read_or_create_key_file(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


_ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "loglytics_home": "LOGLYTICS_HOME",
    "credential_encryption_keys": "CREDENTIAL_ENCRYPTION_KEYS",
    "log_retention_days": "LOG_RETENTION_DAYS",
}


def load_settings() -> Settings:
    """Read settings; a bad value becomes one ConfigError line naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        name = _ENV_NAMES.get(field, field.upper())
        raise ConfigError(f"{name}: {error['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
