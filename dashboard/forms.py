"""Forms generated from a provider's pydantic models, so every provider gets a form for free.

Secret fields are write-only: never pre-filled; when editing, blank means "keep the stored one".
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import streamlit as st
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

_SKIP = {"model_config"}


def _base_type(annotation: Any) -> Any:
    """``str | None`` -> str; ``list[str] | None`` -> list[str]."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return annotation


def _label(name: str, info: FieldInfo) -> str:
    return name.replace("_", " ") + ("" if info.is_required() else " (optional)")


def model_form(model: type[BaseModel], *, key: str, current: dict[str, Any] | None = None,
               secret: bool = False, editing: bool = False, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Render one widget per field; return the entered values (unset optional fields left out)."""
    values: dict[str, Any] = {}
    current = current or {}
    for name, info in model.model_fields.items():
        if name in _SKIP or name in skip:
            continue
        kind = _base_type(info.annotation)
        default = current.get(name, None if info.is_required() else info.get_default(call_default_factory=True))
        widget_key = f"{key}.{name}"
        help_text = info.description
        if secret or kind is SecretStr:
            placeholder = "leave blank to keep" if editing else ""
            entered = st.text_input(_label(name, info), type="password", key=widget_key, placeholder=placeholder,
                                    help=help_text)
            if entered:
                values[name] = entered
        elif kind is bool:
            values[name] = st.checkbox(_label(name, info), value=bool(default), key=widget_key, help=help_text)
        elif kind in (int, float):
            entered = st.text_input(_label(name, info), value="" if default is None else str(default),
                                    key=widget_key, help=help_text)
            if entered.strip():
                values[name] = _number(entered, kind)
        elif typing.get_origin(kind) is list:
            text = st.text_area(_label(name, info) + " — one per line", value="\n".join(default or []),
                                key=widget_key, help=help_text)
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines or info.is_required():
                values[name] = lines
        elif typing.get_origin(kind) is dict or kind is dict:
            text = st.text_area(_label(name, info) + " (JSON)", value=json.dumps(default or {}), key=widget_key,
                                help=help_text)
            values[name] = _json(text)
        else:
            entered = st.text_input(_label(name, info), value="" if default is None else str(default),
                                    key=widget_key, help=help_text)
            if entered.strip() or info.is_required():
                values[name] = entered.strip()
    return values


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text) if kind is int else float(text)
    except ValueError:
        return text  # pydantic reports it in words, with the field name


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return text
