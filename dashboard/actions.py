"""Running a core change from a page: as the signed-in user, outcome in words, fresh data after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from core.actor import Actor
from core.errors import LoglyticsError
from dashboard import data


def attempt(actor: Actor, label: str, func: Callable[..., Any], **kwargs) -> tuple[bool, Any]:
    """Call ``func(session, actor=actor, **kwargs)`` in one transaction; show a failure as an error."""
    try:
        with data.session(actor) as session:
            result = func(session, actor=actor, **kwargs)
    except LoglyticsError as exc:
        st.error(f"{label} failed: {exc}")
        return False, None
    data.clear_caches()
    return True, result


def act(actor: Actor, label: str, func: Callable[..., Any], **kwargs) -> None:
    """``attempt`` and, on success, a toast and a rerun so the page shows the new state."""
    ok, _ = attempt(actor, label, func, **kwargs)
    if ok:
        st.toast(f"{label}: done")
        st.rerun()
