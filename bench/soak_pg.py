"""bench.soak's look at PostgreSQL: which of its processes come and go (autovacuum and
parallel workers, sampled apart), and each process's role (backend type, or the application
holding a connection) with its open files, for a look at what moved."""

from __future__ import annotations

import psutil
import psycopg

#: PostgreSQL's processes that come and go (its process title names them), bounded by its
#: autovacuum_max_workers and max_parallel_workers.
TRANSIENT_PG = ("autovacuum worker", "parallel worker")


def split_transient(family: list[psutil.Process]) -> tuple[list[psutil.Process], int]:
    """The family without its transient workers, and how many there were."""
    kept = [q for q in family if not _transient(q)]
    return kept, len(family) - len(kept)


def _transient(proc: psutil.Process) -> bool:
    try:
        title = " ".join(proc.cmdline())
    except psutil.Error:
        return True  # gone already: it was one of them
    return any(kind in title for kind in TRANSIENT_PG)


def by_role(family: list[psutil.Process], roles: dict[int, str], postmaster: int
            ) -> dict[str, list[int]]:
    """PostgreSQL's processes and open files per role (``pg_roles``): which of its
    parts holds what, when its totals move."""
    out: dict[str, list[int]] = {}
    for q in family:
        role = "postmaster" if q.pid == postmaster else roles.get(q.pid, "other")
        try:
            fds = q.num_fds()
        except psutil.Error:
            continue
        counts = out.setdefault(role, [0, 0])
        counts[0] += 1
        counts[1] += fds
    return out


def pg_roles(dsn: str) -> dict[int, str] | None:
    """Each PostgreSQL server process's role: its backend type, or ``client:<application>``
    for a connection (cityhub's pools name themselves); this sampler's own left out."""
    try:
        with psycopg.connect(dsn, connect_timeout=1,
                             application_name="bench-soak") as conn:
            rows = conn.execute(
                "SELECT pid, backend_type, coalesce(nullif(application_name, ''),"
                " usename::text, '?') FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid()").fetchall()
    except psycopg.OperationalError:
        return None
    return {pid: f"client:{app}" if kind == "client backend" else kind
            for pid, kind, app in rows}
