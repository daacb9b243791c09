"""The dashboard's one door to core: cached engine and cached queries. No SQL here."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from core.config import load_settings
from core.db import make_engine, resolve_url, session_scope
from core.store import stats


@st.cache_resource
def engine() -> Engine:
    return make_engine(resolve_url(load_settings()), pool_size=5)


@st.cache_data(ttl=2)
def table_counts() -> dict[str, int]:
    with session_scope(engine()) as session:
        return stats.table_counts(session)
