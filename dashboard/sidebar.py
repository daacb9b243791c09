"""Sidebar: project switcher, unread-alerts badge, worker health, who is signed in."""

from __future__ import annotations

import streamlit as st

from core.actor import Actor
from dashboard import data, session


def render(actor: Actor) -> None:
    with st.sidebar:
        projects = data.visible_projects(actor)
        if not projects:
            st.warning("You are not a member of any project yet. Ask an admin.")
        else:
            ids = [p["id"] for p in projects]
            names = {p["id"]: p["name"] for p in projects}
            current = st.session_state.get(session.PROJECT_KEY)
            if current not in ids:
                st.session_state[session.PROJECT_KEY] = ids[0]
            st.selectbox("Project", ids, key=session.PROJECT_KEY, format_func=names.get)
            unread = data.unread_alerts(actor, st.session_state[session.PROJECT_KEY])
            if unread:
                st.page_link("views/alerts.py", label=f"{unread} unread alert(s)",
                             icon=":material/notifications_active:")
        if data.worker_count(actor) == 0:
            st.error("No worker is running: logs are not being collected.", icon=":material/warning:")
        st.text(f"Signed in as {actor.name} ({actor.role})")
        if st.button("Sign out", key="logout"):
            session.logout()
            st.rerun()
