"""Loglytics Live dashboard entry point."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run` does not add the repo root

import streamlit as st  # noqa: E402

from core.errors import LoglyticsError  # noqa: E402
from dashboard import data  # noqa: E402

st.set_page_config(page_title="Loglytics Live", page_icon=":material/monitoring:", layout="wide")
st.title("Loglytics Live")

try:
    counts = data.table_counts()
except LoglyticsError as exc:
    st.error(f"Configuration problem: {exc}")
    st.stop()
except Exception as exc:  # noqa: BLE001 - show the operator, do not crash the page
    st.error(f"Database unavailable: {type(exc).__name__}")
    st.stop()

st.success("Connected to the database.")
columns = st.columns(4)
for index, (table, count) in enumerate(counts.items()):
    columns[index % 4].metric(table.replace("_", " "), f"{count:,}")
