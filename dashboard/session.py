"""Who is logged in, which project is selected; login and logout. State lives in st.session_state."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from core import auth
from core.actor import Actor
from core.errors import AuthenticationFailed
from core.permissions import can
from dashboard import data

LOGIN_KEY = "login"
PROJECT_KEY = "project_id"


def current_login() -> auth.LoginSession | None:
    """The logged-in session, refreshed from the database; None after logout, idle expiry or disabling."""
    login = st.session_state.get(LOGIN_KEY)
    if login is None:
        return None
    idle = timedelta(minutes=data.settings().session_idle_minutes)
    refreshed = auth.resume(data.engine(), login_session=login, idle=idle)
    if refreshed is None:
        st.session_state.pop(LOGIN_KEY, None)
        st.session_state["login_notice"] = "Your session expired. Please sign in again."
        return None
    st.session_state[LOGIN_KEY] = refreshed
    return refreshed


def actor() -> Actor:
    login = st.session_state.get(LOGIN_KEY)
    if login is None:
        st.stop()
    return login.actor


def can_edit() -> bool:
    """Operators and admins change configuration; viewers only read."""
    return can(actor(), "operator")


def login_form() -> None:
    st.title("Loglytics Live")
    notice = st.session_state.pop("login_notice", None)
    if notice:
        st.info(notice)
    with st.form("login_form"):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            st.session_state[LOGIN_KEY] = auth.login(data.engine(), username=username, password=password,
                                                     source="dashboard")
        except AuthenticationFailed as exc:
            st.error(str(exc))
        else:
            st.rerun()


def logout() -> None:
    login = st.session_state.pop(LOGIN_KEY, None)
    if login is not None:
        auth.logout(data.engine(), login_session=login)
    st.session_state.clear()


def project_id() -> int | None:
    return st.session_state.get(PROJECT_KEY)
