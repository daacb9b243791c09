"""Users (admins only): accounts, roles, project memberships."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.permissions import can
from core.store import users
from dashboard import actions, data, session

actor = session.actor()
st.title("Users")
if not can(actor, "admin"):
    st.error("Only admins manage users.")
    st.stop()



with data.session(actor) as s:
    rows = [{"username": u.username, "role": u.role, "disabled": u.disabled, "projects": ", ".join(p),
             "last login": u.last_login_at, "locked until": u.locked_until}
            for u, p in users.list_users(s, actor=actor)]
st.dataframe(pd.DataFrame(rows), hide_index=True)
project_names = [p["name"] for p in data.visible_projects(actor)]

with st.expander("Add a user"), st.form("add_user"):
    username = st.text_input("Username", key="new_username")
    role = st.selectbox("Role", users.ROLES, index=2, key="new_role")
    member_of = st.multiselect("Projects", project_names, key="new_projects")
    password = st.text_input("Initial password (8+ characters)", type="password", key="new_password")
    if st.form_submit_button("Create user", type="primary"):
        actions.act(actor, "Create user", users.create_user, username=username, password=password, role=role,
            projects=member_of)

with st.expander("Change a user"):
    names = [r["username"] for r in rows]
    target = st.selectbox("User", names, key="edit_user")
    project = st.selectbox("Add to project", project_names, key="edit_project")
    with st.container(horizontal=True):
        if st.button("Add membership", key="add_membership"):
            actions.act(actor, "Add membership", users.add_membership, username=target, project=project)
        if st.button("Disable", key="disable_user"):
            actions.act(actor, "Disable", users.set_disabled, username=target, disabled=True)
        if st.button("Enable", key="enable_user"):
            actions.act(actor, "Enable", users.set_disabled, username=target, disabled=False)
    new_password = st.text_input("New password", type="password", key="reset_password")
    if st.button("Set password", key="set_password", disabled=not new_password):
        actions.act(actor, "Set password", users.set_password, username=target, password=new_password)
