"""Loglytics Live dashboard: page config, login gate, sidebar, navigation. Pages live in views/."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `streamlit run` does not put the repo root on the path

import streamlit as st  # noqa: E402

from core.errors import LoglyticsError  # noqa: E402
from core.permissions import can  # noqa: E402
from dashboard import session, sidebar  # noqa: E402

VIEWS = Path(__file__).parent / "views"


def _page(name: str, title: str, icon: str, default: bool = False) -> st.Page:
    return st.Page(VIEWS / f"{name}.py", title=title, icon=icon, url_path=name, default=default)


def main() -> None:
    st.set_page_config(page_title="Loglytics Live", page_icon=":material/monitoring:", layout="wide")
    try:
        login = session.current_login()
    except LoglyticsError as exc:
        st.error(f"Configuration problem: {exc}")
        st.stop()
    except Exception as exc:  # noqa: BLE001 - the operator sees what is wrong, not a stack trace
        st.error(f"The database is unavailable ({type(exc).__name__}). Is it running and migrated?")
        st.stop()
    if login is None:
        session.login_form()
        st.stop()
    actor = login.actor
    pages = {
        "Monitor": [_page("live_logs", "Live logs", ":material/stream:", default=True),
                    _page("metrics", "Metrics", ":material/bar_chart:"),
                    _page("alerts", "Alerts", ":material/notifications:")],
        "Configure": [_page("connections", "Connections", ":material/cable:"),
                      _page("rules", "Rules", ":material/rule:"),
                      _page("channels", "Channels", ":material/campaign:")],
        "Account": [_page("account", "Account", ":material/person:")],
    }
    if can(actor, "admin"):
        pages["Admin"] = [_page("users", "Users", ":material/group:"), _page("audit", "Audit", ":material/history:")]
    navigation = st.navigation(pages)
    sidebar.render(actor)
    navigation.run()


main()
