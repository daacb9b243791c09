"""Notification channels: inbox, email, Slack, Jira; secrets write-only; send a test notification."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.notifiers import registry
from core.store import channels as store
from dashboard import actions, data, forms, session

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
            done, outcome = actions.attempt(actor, "Test", store.send_test, vault=data.vault(),
                                            channel_id=selected["id"], dashboard_url=data.settings().dashboard_url)
            if done:
                ok, message = outcome
                (st.success if ok else st.error)(message)
        toggle = "Disable" if selected["enabled"] else "Enable"
        if st.button(toggle, key="channel_toggle"):
            actions.act(actor, toggle, store.update_channel, vault=data.vault(), channel_id=selected["id"],
                        enabled=not selected["enabled"])
        if st.button("Delete channel", key="channel_delete"):
            actions.act(actor, "Delete", store.delete_channel, channel_id=selected["id"])

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
    if saved:
        actions.act(actor, "Add channel", store.create_channel, vault=data.vault(), project_id=project_id,
                    name=name, type=kind, config=config, secret=secret or None)
else:
    st.caption("You have read-only access to this project.")
