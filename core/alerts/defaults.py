"""Starter alerting for a project: an inbox channel and a rule that catches error bursts.

``loglytics up`` calls ``ensure_demo_alerting`` for the demo project, so the demo connection's
error bursts show up in the inbox without any setup.
"""

from __future__ import annotations

from sqlmodel import Session, select

from core.actor import Actor
from core.models import AlertRule, Channel
from core.store import channels, rules
from core.vault import Vault

INBOX = "inbox"
BURST_RULE = "error burst"
BURST_OPTIONS = {
    "window_s": 60, "threshold": 12, "group_by": "source", "cooldown_s": 300, "scope": {"min_level": "error"},
}


def ensure_demo_alerting(session: Session, *, actor: Actor, vault: Vault, project_id: int) -> None:
    """Idempotent: creates what is missing, changes nothing that exists."""
    inbox = session.exec(select(Channel).where(Channel.project_id == project_id, Channel.name == INBOX)).first()
    if inbox is None:
        inbox = channels.create_channel(session, actor=actor, vault=vault, project_id=project_id, name=INBOX,
                                        type="inapp", config={})
    exists = session.exec(select(AlertRule.id).where(AlertRule.project_id == project_id,
                                                     AlertRule.name == BURST_RULE)).first()
    if exists is None:
        rules.create_rule(session, actor=actor, project_id=project_id, name=BURST_RULE, type="threshold",
                          options={**BURST_OPTIONS, "channels": [inbox.id]}, severity="warning")


def mixed_rules() -> list[tuple[str, dict]]:
    """Twenty rules of every type over demo-like logs (the benchmark's 'with rules' run); none matches often."""
    patterns = [r"timeout after \d+ ?ms", r"(?i)connection (reset|refused)", r"OutOfMemory|OOMKilled", r"deadlock",
                r"^panic:", r"5\d\d \d+ms$", r"(?i)certificate (expired|invalid)", r"disk (full|quota)"]
    out: list[tuple[str, dict]] = [("pattern", {"pattern": p, "group_by": "source"}) for p in patterns]
    out += [("pattern", {"pattern": r"^admin$", "field": "attr:user"}),
            ("level", {"level": "critical", "group_by": "source"}),
            ("level", {"level": "error", "scope": {"sources": ["payments*"]}}),
            ("level", {"level": "error", "scope": {"text": "checkout"}, "group_by": "source"})]
    out += [("threshold", {"threshold": 500, "window_s": 60, "scope": {"min_level": "error"}}),
            ("threshold", {"threshold": 50, "window_s": 300, "scope": {"text": "timeout"}, "group_by": "source"}),
            ("error_rate", {"percent": 50, "window_s": 300}),
            ("error_rate", {"percent": 60, "window_s": 120, "group_by": "source"}),
            ("spike", {"factor": 10, "window_s": 60}),
            ("spike", {"factor": 20, "window_s": 60, "group_by": "source"}),
            ("absence", {"window_s": 300}),
            ("absence", {"window_s": 600, "group_by": "source"})]
    return out
