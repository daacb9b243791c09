"""Alert inbox: firing / acknowledged / resolved / all; ack, resolve, silence, read; details and deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from core.store import alerts as store
from dashboard import actions, data, session

TABS = {"Firing": "firing", "Acknowledged": "acknowledged", "Resolved": "resolved", "All": "all"}
SILENCE = {"15 minutes": timedelta(minutes=15), "1 hour": timedelta(hours=1), "4 hours": timedelta(hours=4),
           "1 day": timedelta(days=1)}

actor = session.actor()
project_id = session.project_id()
st.title("Alerts")
if project_id is None:
    st.info("No project selected.")
    st.stop()
editable = session.can_edit()


def load(state: str) -> list[dict]:
    with data.session(actor) as s:
        return [{"id": a.id, "rule": rule, "title": a.title, "severity": a.severity, "state": a.state,
                 "count": a.count, "first seen": a.first_seen, "last seen": a.last_seen,
                 "read": a.read, "acked by": a.acked_by, "comment": a.ack_comment}
                for a, rule in store.list_alerts(s, actor=actor, project_id=project_id, state=state)]


def act(label: str, func, ids: list[int], **kwargs) -> None:
    """One action over every selected alert, in one transaction."""

    def each(session, *, actor, **kw):
        for alert_id in ids:
            func(session, actor=actor, alert_id=alert_id, **kw)

    actions.act(actor, f"{label} ({len(ids)} alert(s))", each, **kwargs)


def details(alert_id: int) -> None:
    with data.session(actor) as s:
        alert = store.get_alert(s, actor=actor, alert_id=alert_id)
        deliveries = store.notifications(s, actor=actor, alert_id=alert_id)
    st.subheader(f"Alert {alert.id}")
    st.text(alert.title)  # log-derived text: plain text only
    st.text(f"{alert.state} · {alert.severity} · {alert.count} occurrence(s) · "
            f"first {alert.first_seen:%Y-%m-%d %H:%M:%S} · last {alert.last_seen:%Y-%m-%d %H:%M:%S} UTC")
    if alert.samples:
        st.caption("Sample lines")
        st.code("\n".join(str(sample.get("message", sample)) for sample in alert.samples[:10]), language=None,
                wrap_lines=True)
    if st.button("Open these events in Live logs", key=f"open_logs_{alert.id}"):
        margin = timedelta(minutes=1)
        st.session_state["live_window"] = (alert.first_seen - margin, alert.last_seen + margin)
        st.switch_page("views/live_logs.py")
    st.caption("Deliveries")
    if deliveries:
        st.dataframe(pd.DataFrame(deliveries)[["channel", "type", "event", "status", "attempts", "sent_at",
                                               "last_error"]], hide_index=True)
    else:
        st.text("No delivery queued for this alert.")


for tab, (label, state) in zip(st.tabs(list(TABS)), TABS.items(), strict=True):
    with tab:
        rows = load(state)
        if not rows:
            st.info(f"No {label.lower()} alerts." if state != "all" else "No alerts yet.")
            continue
        picked = st.dataframe(pd.DataFrame(rows), hide_index=True, on_select="rerun", selection_mode="multi-row",
                              key=f"alerts_{state}",
                              column_config={"title": st.column_config.TextColumn(width="large")})
        ids = [rows[i]["id"] for i in (picked.selection.rows if picked else [])]
        if not ids:
            st.caption("Select alerts to act on them.")
            continue
        with st.container(horizontal=True):
            if st.button("Mark read", key=f"read_{state}"):
                act("Mark read", store.mark_read, ids)
            if editable and st.button("Resolve", key=f"resolve_{state}"):
                act("Resolve", store.resolve, ids)
        if editable:
            with st.container(horizontal=True):
                comment = st.text_input("Comment (optional)", key=f"comment_{state}")
                if st.button("Acknowledge", key=f"ack_{state}", type="primary"):
                    act("Acknowledge", store.acknowledge, ids, comment=comment or None)
            with st.container(horizontal=True):
                span = st.selectbox("Silence for", list(SILENCE), key=f"silence_for_{state}")
                if st.button("Silence", key=f"silence_{state}"):
                    act("Silence", store.silence, ids, until=datetime.now(UTC) + SILENCE[span])
        else:
            st.caption("Viewers can mark alerts read; acknowledging needs the operator role.")
        if len(ids) == 1:
            details(ids[0])
