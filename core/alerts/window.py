"""Window rules (threshold, error_rate, spike, absence) over complete windows only.

Windows slide by one minute (the rollup's grain): the window ending at minute boundary ``e``
covers ``[e - window_s, e)``. It is evaluated only once it is complete, that is once every
connection it reads from has been read past ``e``: a connection's horizon is the lowest
high-water mark of its cursors, in event time (see ``watermark``).
Late events inside the settle time are therefore loaded before their window is judged, and
cannot raise a false ``absence``. Stopped or paused connections, and connections that have not
been read since their last change, are left out; a connection whose reads fail holds its
horizon back, so its windows wait rather than being judged on missing data.

Counts come from the per-minute rollup ``log_counts`` when the rule scopes and groups only by
connection and level; a text or source scope, or grouping by source or attribute, reads
``log_events`` for the window (by ``(project_id, ts)``).

Evaluation is idempotent per window (see lifecycle: a window at or before an alert's last seen
is not counted twice), so a restart or a second worker re-judging a window changes nothing;
each rule is also evaluated under an advisory lock so two workers do not race on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import Engine

from core.alerts import lifecycle
from core.alerts.cache import RuleCache
from core.alerts.rules import WINDOW, CompiledRule

log = logging.getLogger("loglytics.alerts")
MINUTE = timedelta(minutes=1)
GRACE = timedelta(seconds=5)  # fallback horizon only: covers the poll's own duration
# ingestion-time cursors: Azure documents 20 s - 3 min average ingestion latency; Google reports ~2.5 min
ARRIVAL_LATENESS = timedelta(minutes=3)
CATCHUP = timedelta(minutes=10)  # how far back a fresh evaluator re-judges windows
MAX_STEPS = 120  # windows per rule and pass (a long outage catches up over several passes)
LOCK_CLASS = 0x4C4C  # advisory lock namespace: (LOCK_CLASS, rule id)


@dataclass(slots=True)
class ConnInfo:
    id: int
    project_id: int
    running: bool
    created_at: datetime
    horizon: datetime | None


@dataclass(slots=True)
class Unit:
    """Connections evaluated together: one per connection when grouping by connection, else all in scope."""

    key: str
    connection_ids: list[int]
    horizon: datetime
    since: datetime


@dataclass(slots=True)
class PassStats:
    windows: int = 0
    fired: int = 0
    resolved: int = 0
    skipped_locked: int = 0
    errors: int = 0


def floor_minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def _iso_mark(value: Any) -> datetime | None:
    """'2024-05-01T12:00:00.1234567Z' (any fraction digits) -> datetime, to the second."""
    if not isinstance(value, str) or len(value) < 19:
        return None
    try:
        return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def watermark(value: Any, updated_at: datetime, settle_s: float) -> datetime:
    """Event time before which a cursor partition has been read completely.

    ``hw_ms``/``hw_s`` (AWS, demo) are event-time marks already net of the settle time. ``it_hw`` /
    ``rt_hw`` (Azure, Google) mark ingestion/receive time: events stamped shortly before them may
    still be in flight, so ``ARRIVAL_LATENESS`` is taken off. Other shapes: the cursor's commit
    time, less the settle time, a grace and that lateness.
    """
    if isinstance(value, dict):
        hw_ms, hw_s = value.get("hw_ms"), value.get("hw_s")
        if isinstance(hw_ms, int | float) and not isinstance(hw_ms, bool):
            return datetime.fromtimestamp(hw_ms / 1000, UTC)
        if isinstance(hw_s, int | float) and not isinstance(hw_s, bool):
            return datetime.fromtimestamp(hw_s, UTC)
        for key in ("it_hw", "rt_hw"):
            mark = _iso_mark(value.get(key))
            if mark is not None:
                return mark - ARRIVAL_LATENESS
    return updated_at - timedelta(seconds=settle_s) - GRACE - ARRIVAL_LATENESS


def load_connections(conn: psycopg.Connection, project_ids: list[int] | None = None) -> dict[int, ConnInfo]:
    """Every connection with its horizon: the data before it is complete."""
    where, params = ("WHERE c.project_id = ANY(%s)", (project_ids,)) if project_ids is not None else ("", ())
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT c.id, c.project_id, c.desired_state, c.created_at, c.updated_at, c.config->>'settle_s' AS settle, "
            "cu.value, cu.updated_at AS cursor_at FROM connections c "
            f"LEFT JOIN cursors cu ON cu.connection_id = c.id AND cu.updated_at >= c.updated_at {where} "
            "ORDER BY c.id", params,
        ).fetchall()
    out: dict[int, ConnInfo] = {}
    for row in rows:
        info = out.get(row["id"])
        if info is None:
            info = out[row["id"]] = ConnInfo(row["id"], row["project_id"], row["desired_state"] == "running",
                                             row["created_at"], None)
        if row["cursor_at"] is None:
            continue
        mark = watermark(row["value"], row["cursor_at"], float(row["settle"] or 0))
        info.horizon = mark if info.horizon is None else min(info.horizon, mark)
    return out


def units_for(rule: CompiledRule, connections: Iterable[ConnInfo]) -> list[Unit]:
    scope = rule.options.scope
    usable = [c for c in connections if c.project_id == rule.project_id and c.running and c.horizon is not None
              and (not scope.connections or c.id in scope.connections)]
    if not usable:
        return []
    if rule.options.group_by == "connection":
        return [Unit(str(c.id), [c.id], c.horizon, c.created_at) for c in usable]
    return [Unit("", [c.id for c in usable], min(c.horizon for c in usable), min(c.created_at for c in usable))]


# --- reading counts ---------------------------------------------------------------------------------

def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def uses_rollup(rule: CompiledRule) -> bool:
    scope = rule.options.scope
    return rule.options.group_by in (None, "connection") and not scope.sources and scope.text is None


def _event_filters(rule: CompiledRule, connection_ids: list[int]) -> tuple[list[str], list[Any]]:
    scope = rule.options.scope
    clauses, params = ["project_id = %s", "connection_id = ANY(%s)"], [rule.project_id, connection_ids]
    if scope.min_level is not None:
        clauses.append("level >= %s")
        params.append(scope.min_level)
    if scope.sources:
        exact = [s for s in scope.sources if not s.endswith("*")]
        prefixes = [_like_escape(s[:-1]) + "%" for s in scope.sources if s.endswith("*")]
        clauses.append("(source = ANY(%s) OR source LIKE ANY(%s))")
        params += [exact, prefixes]
    if scope.text is not None:
        clauses.append("message ILIKE %s")
        params.append("%" + _like_escape(scope.text) + "%")
    return clauses, params


def _group_expr(rule: CompiledRule) -> tuple[str, list[Any]]:
    group_by = rule.options.group_by
    if group_by is None:
        return "''", []
    if group_by == "source":
        return "source", []
    if group_by == "connection":
        return "connection_id::text", []
    return "coalesce(attributes #>> %s, '')", [group_by[5:].split(".")]


def _error_level(rule: CompiledRule) -> int:
    return getattr(rule.options, "error_level", 0)


Series = dict[str, dict[datetime, tuple[int, int]]]  # group -> minute -> (events, errors)


def minute_series(conn: psycopg.Connection, rule: CompiledRule, connection_ids: list[int], start: datetime,
                  end: datetime) -> Series:
    """Per group and minute: matching events, and those at or above the error level (error_rate)."""
    err = _error_level(rule)
    if uses_rollup(rule):
        level = rule.options.scope.min_level
        rows = conn.execute(
            "SELECT connection_id::text, minute, sum(count)::bigint, "
            "coalesce(sum(count) FILTER (WHERE level >= %s), 0)::bigint FROM log_counts "
            "WHERE project_id = %s AND connection_id = ANY(%s) AND minute >= %s AND minute < %s "
            + ("AND level >= %s " if level is not None else "") + "GROUP BY 1, 2",
            (err, rule.project_id, connection_ids, start, end, *([level] if level is not None else [])),
        ).fetchall()
        by_connection = rule.options.group_by == "connection"
        series: Series = {}
        for cid, minute, n, n_err in rows:
            bucket = series.setdefault(cid if by_connection else "", {})
            old = bucket.get(minute, (0, 0))
            bucket[minute] = (old[0] + n, old[1] + n_err)
        return series
    clauses, params = _event_filters(rule, connection_ids)
    expr, expr_params = _group_expr(rule)
    rows = conn.execute(
        f"SELECT {expr}, date_trunc('minute', ts), count(*), count(*) FILTER (WHERE level >= %s) FROM log_events "
        f"WHERE {' AND '.join(clauses)} AND ts >= %s AND ts < %s GROUP BY 1, 2",
        (*expr_params, err, *params, start, end),
    ).fetchall()
    series = {}
    for group, minute, n, n_err in rows:
        series.setdefault(group, {})[minute] = (n, n_err)
    return series


def sample_lines(conn: psycopg.Connection, rule: CompiledRule, connection_ids: list[int], group_key: str,
                 start: datetime, end: datetime, limit: int = 3) -> list[dict[str, Any]]:
    clauses, params = _event_filters(rule, connection_ids)
    expr, expr_params = _group_expr(rule)
    if rule.options.group_by is not None:
        clauses.append(f"{expr} = %s")
        params += [*expr_params, group_key]
    rows = conn.execute(
        f"SELECT ts, source, message FROM log_events WHERE {' AND '.join(clauses)} AND ts >= %s AND ts < %s "
        "ORDER BY ts DESC LIMIT %s", (*params, start, end, limit),
    ).fetchall()
    return [lifecycle.sample(ts, source, message) for ts, source, message in reversed(rows)]


# --- judging one window -------------------------------------------------------------------------------

def _window_sum(bucket: dict[datetime, tuple[int, int]], start: datetime, end: datetime) -> tuple[int, int]:
    n = n_err = 0
    for minute, (a, b) in bucket.items():
        if start <= minute < end:
            n += a
            n_err += b
    return n, n_err


def _label(group_key: str) -> str:
    return f" [{group_key}]" if group_key else ""


def judge(rule: CompiledRule, series: Series, end: datetime, groups: set[str]) -> dict[str, str | None]:
    """group -> title when the condition holds in the window ending at ``end``, None when it does not."""
    o = rule.options
    width = timedelta(seconds=o.window_s)
    start = end - width
    minutes = o.window_s // 60
    out: dict[str, str | None] = {}
    for group in groups:
        n, n_err = _window_sum(series.get(group, {}), start, end)
        title = None
        if rule.type == "threshold":
            if n >= o.threshold:
                title = f"{n} matching events in {minutes} min (threshold {o.threshold})"
        elif rule.type == "error_rate":
            if n >= o.min_events and n_err * 100 >= o.percent * n:
                title = f"{100 * n_err / n:.1f}% errors ({n_err}/{n}) in {minutes} min (threshold {o.percent:g}%)"
        elif rule.type == "spike":
            base, _ = _window_sum(series.get(group, {}), start - width * o.baseline_windows, start)
            baseline = base / o.baseline_windows
            if n >= o.min_events and n >= o.factor * baseline:
                title = f"{n} events in {minutes} min, {o.factor:g}x over the baseline of {baseline:.1f}"
        elif rule.type == "absence" and n == 0:
            title = f"no events in {minutes} min"
        out[group] = f"{rule.name}{_label(group)}: {title}" if title else None
    return out


def expected_groups(rule: CompiledRule, unit: Unit, series: Series, end: datetime, open_groups: set[str]) -> set[str]:
    """The groups judged in a window: those with data, plus those with an open alert (so they can clear)."""
    o = rule.options
    if rule.type != "absence":
        return set(series) | open_groups
    if o.group_by is None:
        return {""}
    if o.group_by == "connection":
        return {unit.key}
    start = end - timedelta(seconds=o.window_s)
    lookback = start - timedelta(seconds=o.window_s * o.lookback_windows)
    seen = {g for g, bucket in series.items() if _window_sum(bucket, lookback, start)[0] > 0}
    return seen | open_groups


def history_needed(rule: CompiledRule) -> timedelta:
    o = rule.options
    extra = getattr(o, "baseline_windows", 0) or (getattr(o, "lookback_windows", 0) if rule.type == "absence" else 0)
    return timedelta(seconds=o.window_s * (1 + extra))


def run_steps(conn: psycopg.Connection, store: lifecycle.AlertStore, rule: CompiledRule, unit: Unit,
              steps: list[datetime], *, now: datetime, stats: PassStats | None = None) -> PassStats:
    """Judge each window ending at ``steps`` (ascending) for one unit, applying the lifecycle."""
    stats = stats or PassStats()
    if not steps:
        return stats
    series = minute_series(conn, rule, unit.connection_ids, steps[0] - history_needed(rule), steps[-1])
    open_groups = store.open_groups(rule)
    if rule.options.group_by == "connection":
        open_groups &= {unit.key}
    width = timedelta(seconds=rule.options.window_s)
    for end in steps:
        stats.windows += 1
        for group, title in sorted(judge(rule, series, end, expected_groups(rule, unit, series, end,
                                                                            open_groups)).items()):
            if title is not None:
                lazy = None if rule.type == "absence" else _lazy_samples(conn, rule, unit, group, end - width, end)
                occ = lifecycle.Occurrence(first=end - width, at=end, title=title, lazy_samples=lazy)
                lifecycle.observe(store, rule, group, [occ], now=now)
                open_groups.add(group)
                stats.fired += 1
            elif group in open_groups:
                if lifecycle.clear(store, rule, group, end, now=now):
                    stats.resolved += 1
                open_groups.discard(group)
    return stats


def _lazy_samples(conn, rule, unit, group, start, end):
    return lambda: sample_lines(conn, rule, unit.connection_ids, group, start, end)


def plan_steps(rule: CompiledRule, unit: Unit, first: datetime, last: datetime) -> list[datetime]:
    """Window ends (minute boundaries) in ``[first, last]`` whose window starts after the unit's connections existed."""
    first = max(first, unit.since + timedelta(seconds=rule.options.window_s))
    last = min(last, unit.horizon)
    out, step = [], floor_minute(first)
    if step < first:
        step += MINUTE
    while step <= last:
        out.append(step)
        step += MINUTE
    return out


# --- the worker's pass ----------------------------------------------------------------------------------

@dataclass
class WindowEvaluator:
    """Remembers, per rule and unit, the last window it judged, so each pass does only the new ones."""

    cache: RuleCache = field(default_factory=RuleCache)
    done: dict[tuple[int, str, Any], datetime] = field(default_factory=dict)

    def run(self, engine: Engine, *, now: datetime | None = None) -> PassStats:
        now = now or datetime.now(UTC)
        stats = PassStats()
        raw = engine.raw_connection()
        try:
            conn: psycopg.Connection = raw.driver_connection
            with conn.transaction():
                lifecycle.wake_expired_silences(conn, now=now)
                projects = [r[0] for r in conn.execute("SELECT DISTINCT project_id FROM alert_rules WHERE enabled")]
                connections = load_connections(conn, projects)
                rulesets = [self.cache.get(conn, p) for p in projects]
            live = {(r.id, r.updated_at) for rs in rulesets for r in rs.rules}
            self.done = {k: v for k, v in self.done.items() if (k[0], k[2]) in live}  # edited or deleted rules
            for ruleset in rulesets:
                for rule in ruleset.rules:
                    try:
                        self._rule(conn, rule, connections.values(), now, stats)
                    except Exception:  # noqa: BLE001 - one broken rule must not stop the others
                        stats.errors += 1
                        log.exception("window evaluation of rule %s failed", rule.id)
        finally:
            raw.close()
        return stats

    def _rule(self, conn: psycopg.Connection, rule: CompiledRule, connections, now: datetime,
              stats: PassStats) -> None:
        units = units_for(rule, connections)
        if rule.kind != WINDOW:
            if rule.resolve_after_s and units:
                with conn.transaction():
                    if _locked(conn, rule):
                        resolve_quiet_alerts(conn, rule, min(u.horizon for u in units), now=now, stats=stats)
                    else:
                        stats.skipped_locked += 1
            return
        for unit in units:
            key = (rule.id, unit.key, rule.updated_at)
            latest = min(unit.horizon, now)
            first = self.done.get(key, floor_minute(latest) - CATCHUP) + MINUTE
            steps = plan_steps(rule, unit, first, latest)[:MAX_STEPS]
            if not steps:
                continue
            with conn.transaction():
                if not _locked(conn, rule):
                    stats.skipped_locked += 1
                    continue
                run_steps(conn, lifecycle.PgAlertStore(conn), rule, unit, steps, now=now, stats=stats)
            self.done[key] = steps[-1]


def _locked(conn: psycopg.Connection, rule: CompiledRule) -> bool:
    return conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (LOCK_CLASS, rule.id)).fetchone()[0]


def resolve_quiet_alerts(conn: psycopg.Connection, rule: CompiledRule, horizon: datetime, *, now: datetime,
                         stats: PassStats | None = None) -> int:
    """Stream alerts without a match for ``resolve_after_s`` of complete data resolve themselves."""
    store = lifecycle.PgAlertStore(conn)
    resolved = 0
    for alert in store.quiet_alerts(rule, horizon - timedelta(seconds=rule.resolve_after_s)):
        if lifecycle.resolve_quiet(store, rule, alert, horizon, now=now):
            resolved += 1
    if stats is not None:
        stats.resolved += resolved
    return resolved
