"""Connections: status at a glance; add, test, edit, start/stop/pause and delete (operators)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.connectors import registry
from core.connectors.testing import test_connection
from core.store import connections as store
from dashboard import actions, data, forms, session

PROVIDERS = {"aws": "AWS CloudWatch Logs", "azure": "Azure Monitor (Log Analytics)",
             "gcp": "Google Cloud Logging", "demo": "Demo (synthetic logs)"}

actor = session.actor()
project_id = session.project_id()
st.title("Connections")
if project_id is None:
    st.info("No project selected.")
    st.stop()
editable = session.can_edit()
rows = data.connection_rows(actor, project_id)



def show_test(result) -> None:
    (st.success if result.ok else st.error)(("Connection works: " if result.ok else "Test failed: ") + result.message)


if rows:
    table = pd.DataFrame([{"id": r["id"], "name": r["name"], "provider": PROVIDERS.get(r["provider"], r["provider"]),
                           "desired": r["desired_state"], "status": r["status"], "events/min": r["events_per_min"],
                           "lag (s)": r["lag_s"], "last poll": r["last_poll_at"], "last error": r["last_error"]}
                          for r in rows])
    picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row",
                          key="connections_table")
    selected = rows[picked.selection.rows[0]] if picked and picked.selection.rows else None
else:
    st.info("No connection in this project yet.")
    selected = None

if selected is not None:
    st.subheader(f"Connection {selected['id']}")
    st.text(f"{selected['name']} · {PROVIDERS.get(selected['provider'], selected['provider'])} · "
            f"{selected['desired_state']} / {selected['status']}")
    if selected["last_error"]:
        st.error(selected["last_error"])
    if editable:
        with st.container(horizontal=True):
            for label, state in (("Start", "running"), ("Pause", "paused"), ("Stop", "stopped")):
                if st.button(label, key=f"state_{state}", disabled=selected["desired_state"] == state):
                    actions.act(actor, label, store.set_desired_state, connection_id=selected["id"], state=state)
            if st.button("Test connection", key="test_saved"):
                with data.session(actor) as s:
                    row = store.get_connection(s, actor=actor, connection_id=selected["id"])
                    secret = store.decrypt_secret(row, data.vault())
                show_test(test_connection(row.provider, row.config, secret))
        with st.expander("Edit"):
            cls = registry.connector_class(selected["provider"])
            with st.form(f"edit_{selected['id']}"):
                config = forms.model_form(cls.Options, key=f"edit{selected['id']}", current=selected["config"])
                st.caption("Secret fields are write-only: leave blank to keep the stored value.")
                secret = forms.model_form(cls.Secret, key=f"edit{selected['id']}.secret", secret=True, editing=True)
                if st.form_submit_button("Save changes", type="primary"):
                    actions.act(actor, "Save", store.update_connection, vault=data.vault(),
                                connection_id=selected["id"], config=config, secret=secret or None)
        with st.expander("Delete"):
            st.warning("Deleting stops collection and removes the connection's cursors; stored logs stay.")
            confirm = st.text_input("Type the connection's name to confirm", key="delete_confirm")
            if st.button("Delete connection", type="primary", disabled=confirm != selected["name"], key="delete"):
                actions.act(actor, "Delete", store.delete_connection, connection_id=selected["id"])

if editable:
    st.divider()
    st.subheader("Add a connection")
    provider = st.selectbox("Provider", list(PROVIDERS), format_func=PROVIDERS.get, key="new_provider")
    cls = registry.connector_class(provider)
    with st.form(f"new_{provider}"):
        name = st.text_input("Name", key=f"new.{provider}.name")
        config = forms.model_form(cls.Options, key=f"new.{provider}")
        secret = forms.model_form(cls.Secret, key=f"new.{provider}.secret", secret=True)
        with st.container(horizontal=True):
            tested = st.form_submit_button("Test connection")
            saved = st.form_submit_button("Save", type="primary")
    if tested:
        show_test(test_connection(provider, config, secret or None))
    if saved:
        actions.act(actor, "Add connection", store.create_connection, vault=data.vault(), project_id=project_id,
                    name=name, provider=provider, config=config, secret=secret or None)
else:
    st.caption("You have read-only access to this project.")
