"""Audit trail (admins only): who did what, when, from where."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.permissions import can
from core.store import audit
from dashboard import data, session

actor = session.actor()
st.title("Audit trail")
if not can(actor, "admin"):
    st.error("Only admins read the audit trail.")
    st.stop()

range_key = st.selectbox("Since", ["1h", "24h", "7d"], index=1, key="audit_range")
only_project = st.toggle("Only the selected project", key="audit_project_only")
with data.session(actor) as s:
    entries = audit.list_entries(s, actor=actor, since=data.since(range_key), limit=1000,
                                 project_id=session.project_id() if only_project else None)
frame = pd.DataFrame([{"time": e.ts, "actor": e.actor, "source": e.source, "action": e.action, "target": e.target,
                       "outcome": e.outcome, "details": e.details} for e in entries])
if frame.empty:
    st.info("No entries in this range.")
else:
    st.dataframe(frame, hide_index=True, height=600)
