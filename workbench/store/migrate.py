"""Schema versions: Alembic migrations shipped in the package, run programmatically.

Opening a database never changes an existing schema silently: an empty database is
created at the newest revision, an older one is refused until `workbench db upgrade`
(or `open_store(..., upgrade=True)`), and a newer one (written by a newer LR Workbench)
is refused outright, so no version ever writes rows another cannot read.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from workbench.errors import BadInput
from workbench.store.engine import ENV_VAR, db_errors, redact

VERSION_TABLE = "workbench_schema_version"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant: the PostgreSQL advisory lock that serialises concurrent upgrades.
_PG_LOCK = 0x4C52_5742


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic `Config` for the shipped migrations (optionally bound to a connection)."""
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_locations", str(MIGRATIONS / "versions"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this package knows."""
    return _script().get_current_head()


def revisions() -> list[str]:
    """Every known revision, oldest first."""
    return [r.revision for r in reversed(list(_script().walk_revisions()))]


def current(connection: Connection) -> str | None:
    """The revision recorded in the database (None when it has none)."""
    ctx = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def state(connection: Connection) -> tuple[str, str | None]:
    """("empty" | "current" | "older" | "newer" | "foreign", revision) of a database."""
    rev = current(connection)
    if rev is None:
        names = set(inspect(connection).get_table_names())
        return ("foreign" if names & {"runs", "eval_points", "policies"} else "empty"), None
    if rev == head():
        return "current", rev
    return ("older" if rev in revisions() else "newer"), rev


def ensure(engine: Engine, url: str, *, upgrade: bool = False) -> str:
    """Check (and create or upgrade where allowed) the schema; returns the revision."""
    with db_errors(url):
        with engine.connect() as conn:
            status, rev = state(conn)
            conn.rollback()
        if status == "current":
            return rev or head()
        if status == "empty" or (status == "older" and upgrade):
            return migrate(engine, url)
    shown = redact(url)
    if status == "older":
        raise BadInput(
            f"database {shown!r} has an older store schema (revision {rev}; this version "
            f"uses {head()}). What to do: back it up, then run `workbench db upgrade --db "
            f"URL` (or set {ENV_VAR}); nothing was changed"
        )
    if status == "newer":
        raise BadInput(
            f"database {shown!r} was written by a newer LR Workbench (schema revision {rev}, "
            f"unknown to this version whose newest is {head()}). What to do: upgrade the "
            "lr-workbench package, or use another database"
        )
    raise BadInput(
        f"database {shown!r} has tables but no LR Workbench schema version. What to do: "
        "point --db at a workbench database or an empty one"
    )


def migrate(engine: Engine, url: str, revision: str = "head") -> str:
    """Upgrade the schema to `revision` under a lock; returns the revision reached."""
    with db_errors(url, "upgrade"), engine.connect() as conn:
        # BEGIN IMMEDIATE on SQLite / an advisory lock on PostgreSQL: one upgrader at a time,
        # and the state is re-read under the lock (another process may have just done it).
        conn = conn.execution_options(workbench_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            status, rev = state(conn)
            if status in ("newer", "foreign"):
                raise BadInput(
                    f"refusing to upgrade database {redact(url)!r}: its schema is {status} "
                    f"({rev}); this version's newest is {head()}"
                )
            command.upgrade(alembic_config(conn), revision)
            reached = current(conn)
    return reached or ""


def info(engine: Engine, url: str) -> dict[str, Any]:
    """Backend, revision, state and row counts of a database."""
    with db_errors(url), engine.connect() as conn:
        status, rev = state(conn)
        counts: dict[str, int] = {}
        if status in ("current", "older"):
            for table in (
                "policies",
                "tasks",
                "runs",
                "eval_points",
                "verdicts",
                "searches",
                "sweeps",
                "jobs",
            ):
                counts[table] = int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar())
        conn.rollback()
    return {
        "url": redact(url),
        "backend": engine.dialect.name,
        "revision": rev,
        "head": head(),
        "state": status,
        "rows": counts,
    }
