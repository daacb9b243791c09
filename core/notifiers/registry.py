"""Channel type -> notifier class, and validation of a channel's options and secret."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from core.errors import UsageError
from core.notifiers.base import Notifier

_TYPES: dict[str, str] = {
    "inapp": "core.notifiers.inapp:InAppNotifier",
    "email": "core.notifiers.email:EmailNotifier",
    "slack": "core.notifiers.slack:SlackNotifier",
    "jira": "core.notifiers.jira:JiraNotifier",
}


def types() -> list[str]:
    return list(_TYPES)


def notifier_class(channel_type: str) -> type[Notifier]:
    if channel_type not in _TYPES:
        raise UsageError(f"unknown channel type {channel_type!r}; use one of {', '.join(_TYPES)}")
    module_name, _, class_name = _TYPES[channel_type].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def build(channel_type: str, config: dict[str, Any], secret: dict[str, Any] | None) -> Notifier:
    """A notifier from stored (or submitted) settings; raises UsageError naming the bad field."""
    from core.store.connections import describe_validation_error

    cls = notifier_class(channel_type)
    try:
        options = cls.Options.model_validate(config)
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc, "config")) from None
    try:
        checked = cls.Secret.model_validate(secret or {})
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc, "secret")) from None  # messages only, never the input
    try:
        return cls(options, checked)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
