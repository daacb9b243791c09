"""SQLModel tables. The schema itself ships as Alembic migrations (core/migrations);
``tests/core/test_migrations.py`` checks that these models and the migrations agree.

``log_events`` is not mapped here: it is partitioned and written by COPY (core/pipeline/loader.py).
Every table holding project data carries ``project_id`` (row-level security and sharding key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


def _now_column(nullable: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable, server_default=func.now()))


def _ts_column(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _jsonb(default: str = "'{}'::jsonb") -> Any:
    return Field(default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default=text(default)))


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    created_at: datetime | None = _now_column()


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    password_hash: str = Field(sa_column=Column(Text, nullable=False))
    role: str = Field(sa_column=Column(Text, nullable=False))  # admin | operator | viewer
    disabled: bool = Field(default=False, nullable=False)
    failed_logins: int = Field(default=0, nullable=False)
    locked_until: datetime | None = _ts_column()
    last_login_at: datetime | None = _ts_column()
    created_at: datetime | None = _now_column()


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    project_id: int = Field(foreign_key="projects.id", primary_key=True, ondelete="CASCADE")


class Connection(SQLModel, table=True):
    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", nullable=False, index=True, ondelete="CASCADE")
    name: str = Field(sa_column=Column(Text, nullable=False))
    provider: str = Field(sa_column=Column(Text, nullable=False))
    config: dict[str, Any] = _jsonb()
    secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))  # Fernet token
    desired_state: str = Field(default="running", sa_column=Column(Text, nullable=False, server_default="running"))
    status: str = Field(default="pending", sa_column=Column(Text, nullable=False, server_default="pending"))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_poll_at: datetime | None = _ts_column()
    last_event_at: datetime | None = _ts_column()
    lag_s: float | None = Field(default=None, nullable=True)
    events_per_min: float | None = Field(default=None, nullable=True)
    lease_owner: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    lease_expires_at: datetime | None = _ts_column()
    created_at: datetime | None = _now_column()
    updated_at: datetime | None = _now_column()


class Cursor(SQLModel, table=True):
    __tablename__ = "cursors"
    connection_id: int = Field(foreign_key="connections.id", primary_key=True, ondelete="CASCADE")
    partition: str = Field(sa_column=Column(Text, primary_key=True))
    project_id: int = Field(foreign_key="projects.id", nullable=False, ondelete="CASCADE")
    value: dict[str, Any] = _jsonb()
    updated_at: datetime | None = _now_column()


class LogCount(SQLModel, table=True):
    """Per-minute rollup of log_events by project, connection and level (charts read this)."""

    __tablename__ = "log_counts"
    project_id: int = Field(primary_key=True)
    connection_id: int = Field(primary_key=True)
    minute: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    level: int = Field(sa_column=Column(SmallInteger, primary_key=True))
    count: int = Field(sa_column=Column(BigInteger, nullable=False))


class AlertRule(SQLModel, table=True):
    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", nullable=False, index=True, ondelete="CASCADE")
    name: str = Field(sa_column=Column(Text, nullable=False))
    type: str = Field(sa_column=Column(Text, nullable=False))
    options: dict[str, Any] = _jsonb()
    severity: str = Field(default="warning", sa_column=Column(Text, nullable=False, server_default="warning"))
    enabled: bool = Field(default=True, nullable=False)
    created_at: datetime | None = _now_column()
    updated_at: datetime | None = _now_column()


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    # one open alert per fingerprint; resolved ones are history
    __table_args__ = (
        Index("alerts_open_fingerprint", "rule_id", "fingerprint", unique=True,
              postgresql_where=text("state <> 'resolved'")),
        Index("alerts_project_state", "project_id", "state", "last_seen"),
    )
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", nullable=False, index=True, ondelete="CASCADE")
    rule_id: int = Field(foreign_key="alert_rules.id", nullable=False, ondelete="CASCADE")
    fingerprint: str = Field(sa_column=Column(Text, nullable=False))
    group_key: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    state: str = Field(default="firing", sa_column=Column(Text, nullable=False, server_default="firing"))
    severity: str = Field(default="warning", sa_column=Column(Text, nullable=False, server_default="warning"))
    title: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    count: int = Field(default=1, nullable=False)
    first_seen: datetime | None = _now_column()
    last_seen: datetime | None = _now_column()
    last_notified_at: datetime | None = _ts_column()
    acked_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    acked_at: datetime | None = _ts_column()
    ack_comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    resolved_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    resolved_at: datetime | None = _ts_column()
    silenced_until: datetime | None = _ts_column()
    read: bool = Field(default=False, nullable=False)
    samples: list[Any] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    )


class Channel(SQLModel, table=True):
    """A per-project notification target (inapp, email, slack, jira)."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", nullable=False, index=True, ondelete="CASCADE")
    name: str = Field(sa_column=Column(Text, nullable=False))
    type: str = Field(sa_column=Column(Text, nullable=False))
    config: dict[str, Any] = _jsonb()
    secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))  # Fernet token
    enabled: bool = Field(default=True, nullable=False)
    created_at: datetime | None = _now_column()


class Notification(SQLModel, table=True):
    """Outbox row: one delivery of one alert change to one channel."""

    __tablename__ = "notifications"
    __table_args__ = (Index("notifications_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", nullable=False, index=True, ondelete="CASCADE")
    alert_id: int = Field(foreign_key="alerts.id", nullable=False, ondelete="CASCADE")
    channel_id: int = Field(foreign_key="channels.id", nullable=False, ondelete="CASCADE")
    event: str = Field(sa_column=Column(Text, nullable=False))  # fired | repeat | resolved | test
    idempotency_key: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    status: str = Field(default="pending", sa_column=Column(Text, nullable=False, server_default="pending"))
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime | None = _now_column()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    payload: dict[str, Any] = _jsonb()
    created_at: datetime | None = _now_column()
    sent_at: datetime | None = _ts_column()


class AuditEntry(SQLModel, table=True):
    """Append-only trail of who did what, when, from where. Details never hold secrets."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    ts: datetime | None = _now_column()
    project_id: int | None = Field(default=None, nullable=True, index=True)
    actor: str = Field(sa_column=Column(Text, nullable=False))
    action: str = Field(sa_column=Column(Text, nullable=False))
    target: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    outcome: str = Field(default="ok", sa_column=Column(Text, nullable=False, server_default="ok"))
    source: str = Field(sa_column=Column(Text, nullable=False))  # dashboard | cli | worker
    details: dict[str, Any] = _jsonb()


class WorkerHeartbeat(SQLModel, table=True):
    """One row per worker process, beaten every few seconds; lets the UI say when none is alive."""

    __tablename__ = "workers"
    id: str = Field(sa_column=Column(Text, primary_key=True))
    host: str = Field(sa_column=Column(Text, nullable=False))
    pid: int = Field(nullable=False)
    version: str = Field(sa_column=Column(Text, nullable=False))
    started_at: datetime | None = _now_column()
    last_beat: datetime | None = _now_column()
