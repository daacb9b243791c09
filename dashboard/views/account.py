"""The signed-in user's account: change the password."""

from __future__ import annotations

import streamlit as st

from core import auth
from core.errors import LoglyticsError
from dashboard import data, session

st.title("Account")
login = st.session_state[session.LOGIN_KEY]
st.text(f"{login.username} · role {login.role}")
with st.form("change_password"):
    old = st.text_input("Current password", type="password", key="old_password")
    new = st.text_input("New password (8+ characters)", type="password", key="new_password_self")
    again = st.text_input("New password again", type="password", key="new_password_again")
    if st.form_submit_button("Change password", type="primary"):
        if new != again:
            st.error("The new passwords differ.")
        else:
            try:
                auth.change_password(data.engine(), login_session=login, old=old, new=new)
            except LoglyticsError as exc:
                st.error(str(exc))
            else:
                st.success("Password changed.")
