"""Database URLs, one engine per process and URL, and errors turned into `BadInput`.

SQLite: WAL journal, a busy timeout, and writers that take the write lock up front
(`BEGIN IMMEDIATE`), so several local processes can write without "database is locked"
(DESIGN.md "SQLite writers"). PostgreSQL: a pre-ping pool and a short connect timeout.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.pool import StaticPool

from workbench import paths
from workbench.errors import BadInput

ENV_VAR = "WORKBENCH_DB_URL"
DEFAULT_FILE = "workbench.sqlite"
BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 5

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def default_url() -> str:
    """The SQLite file under the store root, as an absolute URL."""
    return f"sqlite:///{paths.store_root() / DEFAULT_FILE}"


def resolve_url(url: str | None = None) -> str:
    """The URL to use: the argument, else `WORKBENCH_DB_URL`, else the default SQLite file.

    A bare file path (no `://`) is taken as a SQLite file. Relative SQLite paths are made
    absolute, because URLs handed to jobs and workers must not depend on their cwd.
    """
    url = url or os.environ.get(ENV_VAR) or default_url()
    url = url.strip()
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    parsed = parse_url(url)
    if is_sqlite(parsed) and not is_memory(parsed) and not _is_uri(parsed):
        path = Path(parsed.database).expanduser()
        if not path.is_absolute():
            parsed = parsed.set(database=str(path.resolve()))
            return parsed.render_as_string(hide_password=False)
    return url


def parse_url(url: str) -> URL:
    """`make_url` that fails with a `BadInput` naming the URL (password hidden)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise BadInput(
            f"malformed database URL {redact(url)!r}: {exc}. Use e.g. "
            "sqlite:////abs/path/workbench.sqlite or postgresql+psycopg://user@host:5432/db "
            f"(--db or {ENV_VAR})"
        ) from None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise BadInput(
            f"unsupported database URL {redact(url)!r}: unknown driver {parsed.drivername!r}. "
            "Use sqlite:///PATH or postgresql+psycopg://user@host:port/db"
        ) from None
    return parsed


def redact(url: str | URL) -> str:
    """The URL with any password replaced by ***."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: hide anything between "://user:" and "@"
        head, sep, rest = url.partition("://")
        if sep and "@" in rest:
            cred, _, host = rest.rpartition("@")
            user = cred.split(":", 1)[0]
            return f"{head}://{user}:***@{host}" if ":" in cred else url
        return url


def is_sqlite(url: URL) -> bool:
    """True for any SQLite URL."""
    return url.get_backend_name() == "sqlite"


def _is_uri(url: URL) -> bool:
    # sqlite:///file:PATH?mode=ro&uri=true: an SQLite URI filename, passed through as is.
    return str(url.query.get("uri", "")).lower() in ("true", "1")


def is_memory(url: URL) -> bool:
    """True for an in-memory SQLite URL (`sqlite://` or `sqlite:///:memory:`)."""
    return is_sqlite(url) and url.database in (None, "", ":memory:")


def get_engine(url: str) -> Engine:
    """The process's engine for `url` (created once; `url` already resolved)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None or _engine_pid(engine) != os.getpid():
            if engine is not None:
                # A forked child: drop the parent's pool without closing its connections,
                # which would end the parent's sessions on the server too.
                engine.dispose(close=False)
            engine = _create(url)
            _engines[url] = engine
        return engine


def forget_engine(url: str) -> None:
    """Dispose of the engine for `url` and drop it from the cache."""
    with _engines_lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def _engine_pid(engine: Engine) -> int | None:
    # A forked child must not reuse its parent's pooled connections.
    return getattr(engine, "info_pid", None)


def _create(url: str) -> Engine:
    parsed = parse_url(url)
    if is_sqlite(parsed):
        engine = _create_sqlite(parsed)
    else:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
        engine = create_engine(parsed, **kwargs)
    engine.info_pid = os.getpid()  # type: ignore[attr-defined]
    return engine


def _create_sqlite(url: URL) -> Engine:
    memory = is_memory(url)
    if memory:
        # One shared connection: every session of the process sees the same database.
        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        engine = create_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Manage transactions ourselves so that writers can say BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        if not memory:
            mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("workbench_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def db_errors(url: str, action: str = "open") -> Iterator[None]:
    """Turn connection-level database errors into `BadInput` naming the URL and the fix."""
    try:
        yield
    except DBAPIError as exc:
        if not isinstance(exc, OperationalError | InterfaceError) and not _is_readonly(exc):
            raise
        # While opening, any operational error is about reaching the database; later, only
        # those that are (other errors, e.g. a deadlock, are failures, not bad input).
        if action != "open" and not _about_access(exc):
            raise
        raise BadInput(_explain(url, exc, action)) from None


_ACCESS_WORDS = (
    "readonly",
    "read-only",
    "read only",
    "unable to open",
    "connection",
    "could not connect",
    "does not exist",
    "authentication",
    "password",
    "database is locked",
    "server closed",
    "terminating",
    "timeout expired",
)


def _about_access(exc: DBAPIError) -> bool:
    text = str(exc.orig if exc.orig is not None else exc).lower()
    return any(w in text for w in _ACCESS_WORDS)


def _is_readonly(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "readonly database" in text or "read-only" in text or "read only" in text


def _explain(url: str, exc: DBAPIError, action: str) -> str:
    shown = redact(url)
    text = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
    low = text.lower()
    if _is_readonly(exc):
        fix = "make the file and its folder writable, or copy the database somewhere writable"
    elif "does not exist" in low and "database" in low:
        fix = "create the database first (e.g. `createdb NAME`) or fix the name in the URL"
    elif "unable to open database file" in low:
        fix = "check that the folder exists and is writable"
    elif "password" in low or "authentication" in low or "role" in low:
        fix = "check the user name and password"
    elif "locked" in low:
        fix = "another process holds the database; retry, or raise the busy timeout"
    else:
        fix = (
            "check that the server is running and reachable and that the URL is right "
            f"(--db or {ENV_VAR})"
        )
    return f"cannot {action} database {shown!r}: {text}. What to do: {fix}"


def check_sqlite_writable(url: URL) -> None:
    """Fail early, naming the file, when a SQLite database cannot be written."""
    if is_memory(url) or _is_uri(url):
        return
    path = Path(url.database)
    folder = path.parent
    if not folder.is_dir():
        raise BadInput(
            f"cannot open database {redact(url)!r}: folder {str(folder)!r} does not exist. "
            "What to do: create it or point --db elsewhere"
        )
    # WAL needs the folder writable too (it creates -wal and -shm files beside the file).
    for target in (path, folder) if path.exists() else (folder,):
        if not os.access(target, os.W_OK):
            raise BadInput(
                f"cannot write database {redact(url)!r}: {str(target)!r} is read-only. "
                "What to do: make the file and its folder writable, or copy the database "
                "somewhere writable and use --db"
            )
