"""What a CLI command needs (settings, engine, vault), built lazily and released on exit."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Engine

from core.actor import Actor
from core.config import Settings, load_settings
from core.db import APP_ROLE, make_engine, resolve_url, session_scope
from core.vault import Vault


class CliContext:
    def __init__(self, settings: Settings | None = None):
        self._settings = settings
        self.actor = Actor.system("cli")

    @cached_property
    def settings(self) -> Settings:
        return self._settings or load_settings()

    @cached_property
    def url(self) -> str:
        return resolve_url(self.settings)

    @cached_property
    def engine(self) -> Engine:
        """Row-level-security-scoped engine for everything but migrations."""
        return make_engine(self.url, role=APP_ROLE, pool_size=2)

    @cached_property
    def owner_engine(self) -> Engine:
        """The table owner's engine: migrations only."""
        return make_engine(self.url, pool_size=1)

    def session(self):
        """A session scoped to the CLI actor's projects (every project: the CLI is the local admin)."""
        return session_scope(self.engine, actor=self.actor)

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.settings.fernet_keys())

    def close(self) -> None:
        for name in ("engine", "owner_engine"):
            if name in self.__dict__:
                self.__dict__[name].dispose()
        if "url" in self.__dict__ and self.settings.embedded:
            from core.embedded_pg import stop_server

            stop_server(self.settings.pgdata)  # stops only if no other process holds it
