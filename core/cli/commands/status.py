"""loglytics status: are workers alive, how are the connections doing."""

from __future__ import annotations

from datetime import UTC, datetime

from core.cli.output import emit, print_json
from core.store import connections
from core.store.maintenance import live_workers


def register(sub) -> None:
    parser = sub.add_parser("status", help="worker heartbeats and connection status")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=status_cmd)


def status_cmd(ctx, args) -> int:
    now = datetime.now(UTC)
    with ctx.session() as session:
        workers = [{"id": w.id, "host": w.host, "pid": w.pid, "version": w.version, "started_at": w.started_at,
                    "seconds_since_beat": round((now - w.last_beat).total_seconds(), 1)}
                   for w in live_workers(session)]
        conns = [{"id": c.id, "name": c.name, "provider": c.provider, "desired_state": c.desired_state,
                  "status": c.status, "last_poll_at": c.last_poll_at, "lag_s": c.lag_s,
                  "events_per_min": c.events_per_min, "last_error": c.last_error}
                 for c in connections.list_connections(session, actor=ctx.actor)]
    if args.json:
        print_json({"workers": workers, "connections": conns})
        return 0
    print(f"workers alive: {len(workers)}" + ("" if workers else "  (none: start one with `loglytics worker`)"))
    emit(workers, ["id", "version", "started_at", "seconds_since_beat"], False) if workers else None
    print()
    emit(conns, ["id", "name", "provider", "desired_state", "status", "last_poll_at", "lag_s", "events_per_min",
                 "last_error"], False)
    return 0
