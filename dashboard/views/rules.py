"""Alert rules: list, enable/disable, backtest, delete; a form per rule type with a 24 h backtest preview."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from core.alerts.rules import RULE_TYPES, SEVERITIES
from core.errors import LoglyticsError
from core.store import channels as channel_store
from core.store import rules as store
from dashboard import actions, data, forms, session, widgets

actor = session.actor()
project_id = session.project_id()
st.title("Rules")
if project_id is None:
    st.info("No project selected.")
    st.stop()
editable = session.can_edit()
DAY = timedelta(hours=24)

with data.session(actor) as s:
    rules = [r.model_dump() for r in store.list_rules(s, actor=actor, project_id=project_id)]
    channel_names = {c.id: c.name for c in channel_store.list_channels(s, actor=actor, project_id=project_id)}
connection_names = {c["id"]: c["name"] for c in data.connection_rows(actor, project_id)}



def show_backtest(result) -> None:
    summary = result.as_dict()
    st.info(f"Over the last 24 h this rule would have opened {summary['alerts']} alert(s) and sent "
            f"{summary['notifications']} notification(s) after cooldown and grouping "
            f"({summary['scanned']:,} events or windows examined).")
    if summary["timeline"]:
        st.dataframe(pd.DataFrame(summary["timeline"]), hide_index=True)


if rules:
    table = pd.DataFrame([{"id": r["id"], "name": r["name"], "type": r["type"], "severity": r["severity"],
                           "enabled": r["enabled"], "options": json.dumps(r["options"])} for r in rules])
    picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="rules_table")
    selected = rules[picked.selection.rows[0]] if picked and picked.selection.rows else None
else:
    st.info("No rule in this project yet.")
    selected = None

if selected is not None:
    st.subheader(f"Rule {selected['id']}")
    st.text(f"{selected['name']} · {selected['type']} · {selected['severity']}")
    with st.container(horizontal=True):
        if st.button("Backtest last 24 h", key="backtest_saved"):
            with data.session(actor) as s:
                show_backtest(store.backtest(s, actor=actor, rule_id=selected["id"], since=datetime.now(UTC) - DAY))
        if editable:
            toggle = "Disable" if selected["enabled"] else "Enable"
            if st.button(toggle, key="toggle_rule"):
                actions.act(actor, toggle, store.set_enabled, rule_id=selected["id"], enabled=not selected["enabled"])
            if st.button("Delete rule", key="delete_rule"):
                actions.act(actor, "Delete", store.delete_rule, rule_id=selected["id"])

if editable:
    st.divider()
    st.subheader("Add a rule")
    kind = st.selectbox("Type", list(RULE_TYPES), key="new_rule_type",
                        format_func=lambda k: f"{k} — {RULE_TYPES[k].summary}")
    with st.form(f"new_rule_{kind}"):
        name = st.text_input("Name", key=f"rule.{kind}.name")
        severity = st.selectbox("Severity", SEVERITIES, index=1, key=f"rule.{kind}.severity")
        options = forms.model_form(RULE_TYPES[kind].options, key=f"rule.{kind}", skip=("scope", "channels"))
        st.caption("Scope: which events the rule looks at (empty = all)")
        scope_connections = st.multiselect("Connections", list(connection_names), format_func=connection_names.get,
                                           key=f"rule.{kind}.scope.connections")
        scope_sources = st.text_input("Sources (comma separated; 'prefix*' allowed)", key=f"rule.{kind}.scope.sources")
        scope_level = st.selectbox("Minimum level", ["(any)", *widgets.LEVEL_CHOICES], key=f"rule.{kind}.scope.level")
        scope_text = st.text_input("Text contains", key=f"rule.{kind}.scope.text")
        notify = st.multiselect("Notify channels (the inbox always is)", list(channel_names),
                                format_func=channel_names.get, key=f"rule.{kind}.channels")
        with st.container(horizontal=True):
            preview = st.form_submit_button("Preview: backtest last 24 h")
            saved = st.form_submit_button("Save rule", type="primary")
    options["scope"] = {"connections": scope_connections,
                        "sources": [x.strip() for x in scope_sources.split(",") if x.strip()],
                        **({"min_level": scope_level} if scope_level != "(any)" else {}),
                        **({"text": scope_text} if scope_text.strip() else {})}
    options["channels"] = notify
    try:
        if preview:
            with data.session(actor) as s:
                show_backtest(store.preview_backtest(s, actor=actor, project_id=project_id, type=kind,
                                                     options=options, severity=severity, since=datetime.now(UTC) - DAY))
        if saved:
            actions.act(actor, "Add rule", store.create_rule, project_id=project_id, name=name, type=kind,
                        options=options, severity=severity)
    except LoglyticsError as exc:
        st.error(str(exc))
else:
    st.caption("You have read-only access to this project.")
