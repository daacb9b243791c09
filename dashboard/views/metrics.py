"""Metrics from the per-minute rollup: volume by level, error rate, sources, connections, alerts."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from core.levels import level_name
from dashboard import data, session, widgets

actor = session.actor()
project_id = session.project_id()
st.title("Metrics")
if project_id is None:
    st.info("No project selected.")
    st.stop()

range_key = st.segmented_control("Range", ["1h", "6h", "24h", "7d"], default="1h", key="metrics_range") or "1h"
charts = data.chart_data(actor, project_id, range_key)
LEVEL_COLOURS = {level_name(k): v for k, v in widgets.LEVEL_COLOURS.items()}


def empty(frame: pd.DataFrame, what: str) -> bool:
    if frame.empty:
        st.info(f"No {what} in this range yet.")
        return True
    return False


left, right = st.columns(2)
with left:
    st.subheader("Events by level")
    frame = pd.DataFrame(charts["by_level"], columns=["bucket", "level", "count"])
    if not empty(frame, "events"):
        frame["level"] = frame["level"].map(level_name)
        st.plotly_chart(px.bar(frame, x="bucket", y="count", color="level", color_discrete_map=LEVEL_COLOURS,
                               labels={"bucket": "", "count": "events"}), key="chart_levels")
with right:
    st.subheader("Error rate (%)")
    frame = pd.DataFrame(charts["error_rate"], columns=["bucket", "total", "errors", "rate_pct"])
    if not empty(frame, "events"):
        figure = px.line(frame, x="bucket", y="rate_pct", labels={"bucket": "", "rate_pct": "errors %"})
        for rule in charts["thresholds"]:
            figure.add_hline(y=rule["threshold_pct"], line_dash="dash", line_color="#e53935",
                             annotation_text=f"rule: {rule['name']}")
        st.plotly_chart(figure, key="chart_error_rate")

left, right = st.columns(2)
with left:
    st.subheader("Throughput per connection")
    frame = pd.DataFrame(charts["by_connection"], columns=["bucket", "connection_id", "name", "count"])
    if not empty(frame, "events"):
        st.plotly_chart(px.line(frame, x="bucket", y="count", color="name", labels={"bucket": "", "count": "events"}),
                        key="chart_connections")
    lag = pd.DataFrame([{"connection": c["name"], "status": c["status"], "lag (s)": c["lag_s"],
                         "events/min": c["events_per_min"]} for c in data.connection_rows(actor, project_id)])
    if not lag.empty:
        st.dataframe(lag, hide_index=True)
with right:
    st.subheader("Top sources (last hour at most)")
    frame = pd.DataFrame(charts["top_sources"], columns=["source", "count", "errors"])
    if not empty(frame, "sources"):
        st.plotly_chart(px.bar(frame, x="count", y="source", orientation="h", hover_data=["errors"]),
                        key="chart_sources")

st.subheader("Alerts over time")
frame = pd.DataFrame(charts["alerts"], columns=["bucket", "severity", "count"])
if not empty(frame, "alerts"):
    st.plotly_chart(px.bar(frame, x="bucket", y="count", color="severity", labels={"bucket": ""}), key="chart_alerts")
