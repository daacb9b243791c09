"""The connector contract.

A connector pulls one connection's logs from one provider. It is built from validated
``Options`` (non-secret, stored as jsonb) and ``Secret`` (stored only as a Fernet token),
and knows nothing of the database: the pipeline hands it the committed cursors and commits
what it yields.

Semantics every connector keeps (design.md section 4):
- ``fetch`` reads ``[high_water - overlap, now - settle]`` per source partition (log group,
  workspace query, GCP filter), follows every page chain to its end, and yields ``Batch``es of
  at most a few thousand events so memory stays bounded whatever the backlog.
- A batch's ``cursors`` are set only on the batch that completes a partition's window; pages
  before it carry events with ``cursors == {}``. The loader commits events and cursors of a
  batch in one transaction, so a crash re-reads the window and the unique key absorbs repeats.
- Errors are raised as ``core.errors.ConnectorError`` subclasses, never SDK exceptions, and
  their messages carry no secrets. On an error or a partial result the cursor does not move.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from core.events import RawEvent

CursorValue = dict[str, Any]  # per-partition high-water mark, stored as jsonb


class ConnectorOptions(BaseModel):
    """Options every provider shares. Subclasses add their own and forbid unknown keys."""

    model_config = ConfigDict(extra="forbid")

    poll_interval_s: float = Field(5.0, ge=1.0, description="Seconds between polls.")
    overlap_s: float = Field(120.0, ge=0.0, description="Re-read this far behind the high-water mark (late events).")
    settle_s: float = Field(2.0, ge=0.0, description="Leave the newest seconds for the next poll (ingest delay).")


class ConnectorSecret(BaseModel):
    """Base of the secret models; never logged, shown or audited."""

    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True)
class Batch:
    """Events to load together, and the cursors that become valid once they are committed."""

    events: list[RawEvent]
    cursors: dict[str, CursorValue] = field(default_factory=dict)


@dataclass(slots=True)
class TestResult:
    """Outcome of ``Connector.test()``: ``ok`` or a reason an operator can act on."""

    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


class Connector(Protocol):
    """One provider's log source. See the module docstring for the semantics."""

    provider: ClassVar[str]
    Options: ClassVar[type[ConnectorOptions]]
    Secret: ClassVar[type[ConnectorSecret]]

    def __init__(self, options: ConnectorOptions, secret: ConnectorSecret | None) -> None: ...

    def test(self) -> TestResult:
        """Check credentials, permissions and that the configured sources exist."""
        ...

    def fetch(self, cursors: Mapping[str, CursorValue], now: datetime) -> Iterator[Batch]:
        """Yield batches from the committed ``cursors`` up to ``now - settle``."""
        ...

    def close(self) -> None:
        """Release clients and sockets."""
        ...
