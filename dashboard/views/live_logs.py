"""Live logs: newest first, refreshed every 2 s by a fragment; filters, pause, details, CSV export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from core.levels import level_name, parse_level_name
from core.store.logs import LogFilter
from dashboard import data, session, widgets

REFRESH_S = 2
ROWS = 200
RANGES = ["15m", "1h", "6h", "24h", "7d"]
SUBSTRING_WINDOW = timedelta(hours=1)

actor = session.actor()
project_id = session.project_id()
st.title("Live logs")
if project_id is None:
    st.info("No project selected.")
    st.stop()

connections = data.connection_rows(actor, project_id)
names = {c["id"]: c["name"] for c in connections}
with st.container(horizontal=True):
    chosen = st.multiselect("Connections", list(names), format_func=names.get, key="live_connections")
    sources = st.multiselect("Sources", data.recent_sources(actor, project_id), key="live_sources")
    min_level = st.selectbox("Minimum level", ["(any)", *widgets.LEVEL_CHOICES], key="live_level")
    range_key = st.selectbox("Time range", RANGES, index=1, key="live_range")
with st.container(horizontal=True):
    query = st.text_input("Search", key="live_search", placeholder="words, \"a phrase\", -exclude")
    substring = st.toggle("Substring match (last hour)", key="live_substring",
                          help="Finds text inside words too; scans recent rows, so it is limited to the last hour.")
    paused = st.toggle("Pause", key="live_paused")

if connections:
    status = pd.DataFrame([{"connection": c["name"], "status": c["status"], "lag (s)": c["lag_s"],
                            "events/min": c["events_per_min"], "last poll": c["last_poll_at"],
                            "last error": c["last_error"]} for c in connections])
    with st.expander("Connection status and lag", expanded=False):
        st.dataframe(status, hide_index=True)
else:
    st.info("This project has no connection yet: add one under Configure → Connections.")


window = st.session_state.get("live_window")  # set by "Open in Live logs" on an alert
if window:
    with st.container(horizontal=True):
        st.info(f"Showing the alert's window {window[0]:%Y-%m-%d %H:%M} – {window[1]:%H:%M} UTC.")
        if st.button("Back to live", key="live_window_clear"):
            del st.session_state["live_window"]
            st.rerun()


def current_filter() -> LogFilter:
    since = window[0] if window else data.since(range_key)
    grep = search = None
    if query.strip():
        if substring:
            grep = query.strip()
            since = max(since, datetime.now(UTC) - SUBSTRING_WINDOW)
        else:
            search = query.strip()
    return LogFilter(project_id=project_id, min_level=None if min_level == "(any)" else parse_level_name(min_level),
                     grep=grep, search=search, connection_ids=tuple(chosen), sources=tuple(sources), since=since,
                     until=window[1] if window else None)


def as_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["ts", "level", "source", "message", "connection_id", "attributes",
                                        "trace_id"])
    frame["level"] = frame["level"].map(level_name)
    frame["connection"] = frame["connection_id"].map(names)
    return frame


@st.fragment(run_every=None if paused else REFRESH_S)
def live_table() -> None:
    flt = current_filter()
    if paused and "live_snapshot" in st.session_state:
        rows = st.session_state["live_snapshot"]
        newest = max((r["ts"] for r in rows), default=flt.since)
        st.caption(f"Paused: {data.count_newer(actor, flt, after=newest):,} new while paused.")
    else:
        rows = data.latest_logs(actor, flt, ROWS)
        st.session_state["live_snapshot"] = rows
        st.caption(f"Updated {datetime.now(UTC):%H:%M:%S} UTC · newest {len(rows)} events")
    frame = as_frame(rows)
    if frame.empty:
        st.info("No events match these filters yet.")
        return
    shown = frame[["ts", "level", "connection", "source", "message"]]
    selection = st.dataframe(
        widgets.styled_levels(shown), hide_index=True, on_select="rerun", selection_mode="single-row",
        key="live_table", height=560,
        column_config={"ts": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss.SSS"),
                       "message": st.column_config.TextColumn("message", width="large")},
    )
    picked = selection.selection.rows if selection else []
    if picked:
        row = frame.iloc[picked[0]]
        st.subheader("Event details")
        st.code(row["message"], language=None, wrap_lines=True)  # plain text, never Markdown
        st.json({"ts": str(row["ts"]), "level": row["level"], "source": row["source"],
                 "connection": row["connection"], "trace_id": row["trace_id"], "attributes": row["attributes"]})
    export = shown.assign(attributes=frame["attributes"].map(lambda a: a if a else {}))
    st.download_button("Export CSV", export.to_csv(index=False).encode(), file_name="loglytics-logs.csv",
                       mime="text/csv", key="live_export")


live_table()
