"""Stream rules (pattern, level) over the rows a batch actually inserted, inside the ingest transaction.

The ingest hook receives only the new rows (never re-read duplicates) while the batch's
transaction is open, so an alert and its notification rows commit or roll back with the rows
that raised them. Evaluation runs in a savepoint: a failure in it is logged and rolled back to
the savepoint, and the batch still commits (ingest never stops because of a rule).

Speed: regexes run as one RE2 ``Set`` per field over chunks of messages joined by newlines,
bisecting only chunks where some pattern may match; each candidate is confirmed with the rule's
own regex. The set is compiled in multi-line mode so ``^``/``$`` still hold at message edges;
patterns whose meaning depends on the whole text (``\\A``, ``\\z``, flag clearing) skip the set.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import psycopg
import re2

from core.alerts import lifecycle
from core.alerts.cache import RuleCache, RuleSet
from core.alerts.rules import CompiledRule, attribute
from core.events import LogEvent

log = logging.getLogger("loglytics.alerts")
CHUNK = 64
_NOT_PREFILTERABLE = re.compile(r"\\[Az]|\(\?[a-zA-Z]*-")


class _FieldSet:
    """The pattern rules reading one field: an RE2 set for the prefilter plus the rules it cannot serve."""

    def __init__(self, field: str, rules: list[CompiledRule]):
        self.field = field
        self.indexed: list[CompiledRule] = []
        self.always: list[CompiledRule] = []
        options = re2.Options()
        options.log_errors = False
        self.set = re2.Set.SearchSet(options)
        for rule in rules:
            if _NOT_PREFILTERABLE.search(rule.options.pattern):
                self.always.append(rule)
                continue
            flags = "(?mi)" if rule.options.ignore_case else "(?m)"
            self.set.Add(f"{flags}(?:{rule.options.pattern})")
            self.indexed.append(rule)
        if self.indexed:
            self.set.Compile()

    def texts(self, events: Sequence[LogEvent]) -> list[str | None]:
        if self.field == "message":
            return [e.message for e in events]
        name = self.field[5:]
        out: list[str | None] = []
        append = out.append
        if "." in name:
            for e in events:
                value = attribute(e.attributes, name) if e.attributes else None
                append(None if value is None else value if isinstance(value, str) else str(value))
            return out
        for e in events:  # the common case, a top-level attribute: no path walking
            value = e.attributes.get(name) if e.attributes else None
            append(None if value is None else value if isinstance(value, str) else str(value))
        return out

    def candidates(self, texts: list[str | None]) -> Iterable[tuple[CompiledRule, int]]:
        if self.indexed:
            for start in range(0, len(texts), CHUNK):
                yield from self._bisect(texts, start, min(start + CHUNK, len(texts)))
        for rule in self.always:
            for index, text in enumerate(texts):
                if text is not None:
                    yield rule, index

    def _bisect(self, texts: list[str | None], lo: int, hi: int) -> Iterable[tuple[CompiledRule, int]]:
        parts = [t for t in texts[lo:hi] if t is not None]
        found = self.set.Match("\n".join(parts)) if parts else None
        if not found:
            return
        if hi - lo == 1:
            for pattern_index in found:
                yield self.indexed[pattern_index], lo
            return
        mid = (lo + hi) // 2
        yield from self._bisect(texts, lo, mid)
        yield from self._bisect(texts, mid, hi)


class StreamMatcher:
    """Matches a project's stream rules against a batch. Built once per rule-set version."""

    def __init__(self, rules: list[CompiledRule]):
        self.level_rules = [r for r in rules if r.type == "level"]
        by_field: dict[str, list[CompiledRule]] = {}
        for rule in rules:
            if rule.type == "pattern":
                by_field.setdefault(rule.options.field, []).append(rule)
        self.fields = [_FieldSet(name, group) for name, group in by_field.items()]

    def match(self, connection_id: int, events: Sequence[LogEvent]) -> dict[int, list[int]]:
        """rule id -> indices of the events it matches (in batch order)."""
        out: dict[int, list[int]] = {}
        for rule in self.level_rules:
            scope = rule.options.scope
            if scope.connections and connection_id not in scope.connections:
                continue
            floor = max(rule.options.level, scope.min_level or 0)
            hits = [i for i, e in enumerate(events) if e.level >= floor and scope.accepts(connection_id, e)]
            if hits:
                out[rule.id] = hits
        for field_set in self.fields:
            texts = field_set.texts(events)
            for rule, index in field_set.candidates(texts):
                scope = rule.options.scope
                if scope.accepts(connection_id, events[index]) and rule.regex.search(texts[index]) is not None:
                    out.setdefault(rule.id, []).append(index)
        for hits in out.values():
            hits.sort()
        return out


Work = dict[tuple[int, str], list[lifecycle.Occurrence]]  # (rule id, group key) -> occurrences


def collect(ruleset: RuleSet, connection_id: int, events: Sequence[LogEvent], into: Work | None = None) -> Work:
    """One occurrence per matching event, keyed by rule and group."""
    work: Work = {} if into is None else into
    if not ruleset.stream or not events:
        return work
    for rule_id, indices in ruleset.matcher.match(connection_id, events).items():
        rule = ruleset.by_id[rule_id]
        for index in indices:
            e = events[index]
            occ = lifecycle.Occurrence(first=e.ts, at=e.ts, samples=[lifecycle.sample(e.ts, e.source, e.message)])
            work.setdefault((rule_id, rule.group_key(connection_id, e)), []).append(occ)
    return work


def apply(store: lifecycle.AlertStore, ruleset: RuleSet, work: Work, *, now: datetime) -> int:
    """Run the lifecycle on collected occurrences; returns how many (rule, group) alerts were touched."""
    items = []
    for (rule_id, group_key), occs in work.items():
        rule = ruleset.by_id[rule_id]
        occs.sort(key=lambda o: o.at)
        occs[0].title = _title(rule, occs[0])
        items.append((rule_id, rule.fingerprint(group_key), rule, group_key, occs))
    items.sort(key=lambda w: (w[0], w[1]))  # one lock order for every writer: no deadlocks
    for _, _, rule, group_key, occs in items:
        lifecycle.observe(store, rule, group_key, occs, now=now)
    return len(items)


def _title(rule: CompiledRule, occ: lifecycle.Occurrence) -> str:
    message = occ.samples[0]["message"].splitlines()[0] if occ.samples and occ.samples[0]["message"] else ""
    return f"{rule.name}: {message[:200]}" if message else rule.name


def evaluate(
    store: lifecycle.AlertStore, ruleset: RuleSet, connection_id: int, events: Sequence[LogEvent],
    *, now: datetime | None = None,
) -> int:
    """Apply the stream rules to one connection's new events."""
    work = collect(ruleset, connection_id, events)
    return apply(store, ruleset, work, now=now or datetime.now(UTC)) if work else 0


def make_hook(cache: RuleCache):
    """The ``on_new_events`` hook for core.pipeline.ingest.poll_once."""

    def on_new_events(conn: psycopg.Connection, project_id: int, connection_id: int,
                      new_events: Sequence[LogEvent]) -> None:
        try:
            with conn.transaction():  # a savepoint inside the batch's transaction
                ruleset = cache.get(conn, project_id)
                evaluate(lifecycle.PgAlertStore(conn), ruleset, connection_id, new_events)
        except Exception:  # noqa: BLE001 - a rule must never stop ingest; the batch commits without its alerts
            log.exception("stream rules of project %s failed on a batch of connection %s", project_id, connection_id)

    return on_new_events
