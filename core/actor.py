"""Who is acting: a user (dashboard, CLI login) or a system identity (worker, local CLI)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    source: str  # dashboard | cli | worker
    role: str = "admin"
    user_id: int | None = None
    project_ids: frozenset[int] | None = None  # None = every project (admins, system)

    @classmethod
    def system(cls, source: str) -> Actor:
        """The local operator (CLI with shell access to the host) or the worker."""
        return cls(name=f"system:{source}", source=source)

    def can_see(self, project_id: int) -> bool:
        return self.project_ids is None or project_id in self.project_ids
