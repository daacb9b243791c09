"""Notification channels: inbox, email, Slack, Jira; secrets write-only; send a test notification."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import LoglyticsError
from core.notifiers import registry
from core.store import channels as store
from dashboard import data, forms, session

TYPES = {"inapp": "In-app inbox", "email": "Email (SMTP)", "slack": "Slack", "jira": "Jira"}

actor = session.actor()
project_id = session.project_id()
st.title("Channels")
if project_id is None:
    st.info("No project selected.")
    st.stop()
editable = session.can_edit()

with data.session(actor) as s:
    rows = [{"id": c.id, "name": c.name, "type": c.type, "enabled": c.enabled, "config": c.config,
             "secret fields": ", ".join(store.masked_secret(c, data.vault()))}
            for c in store.list_channels(s, actor=actor, project_id=project_id)]


def act(label: str, func, **kwargs):
    try:
        with data.session(actor) as s:
            result = func(s, actor=actor, **kwargs)
    except LoglyticsError as exc:
        st.error(f"{label} failed: {exc}")
        return None
    data.clear_caches()
    return result


if rows:
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "config"} for r in rows])
    picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row",
                          key="channels_table")
    selected = rows[picked.selection.rows[0]] if picked and picked.selection.rows else None
else:
    st.info("No channel in this project yet.")
    selected = None

if selected is not None and editable:
    st.subheader(f"Channel {selected['id']}")
    st.text(f"{selected['name']} · {TYPES.get(selected['type'], selected['type'])}")
    with st.container(horizontal=True):
        if st.button("Send test notification", key="channel_test"):
            outcome = act("Test", store.send_test, vault=data.vault(), channel_id=selected["id"],
                          dashboard_url=data.settings().dashboard_url)
            if outcome is not None:
                ok, message = outcome
                (st.success if ok else st.error)(message)
        toggle = "Disable" if selected["enabled"] else "Enable"
        if st.button(toggle, key="channel_toggle") and act(toggle, store.update_channel, vault=data.vault(),
                                                            channel_id=selected["id"],
                                                            enabled=not selected["enabled"]) is not None:
            st.rerun()
        if st.button("Delete channel", key="channel_delete") and act(
                "Delete", store.delete_channel, channel_id=selected["id"]) is not None:
            st.rerun()

if editable:
    st.divider()
    st.subheader("Add a channel")
    kind = st.selectbox("Type", list(TYPES), format_func=TYPES.get, key="new_channel_type")
    cls = registry.notifier_class(kind)
    with st.form(f"new_channel_{kind}"):
        name = st.text_input("Name", key=f"channel.{kind}.name")
        config = forms.model_form(cls.Options, key=f"channel.{kind}")
        secret = forms.model_form(cls.Secret, key=f"channel.{kind}.secret", secret=True)
        saved = st.form_submit_button("Save channel", type="primary")
    if saved and act("Add channel", store.create_channel, vault=data.vault(), project_id=project_id, name=name,
                     type=kind, config=config, secret=secret or None) is not None:
        st.toast("Channel added: select it above to send a test notification")
        st.rerun()
else:
    st.caption("You have read-only access to this project.")
