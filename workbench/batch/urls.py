"""Store URLs for jobs: resolved, absolute, shown without password, checked quickly."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from workbench.errors import BadInput


def resolve_url(url: str | None) -> str:
    """The flag, then `WORKBENCH_DB_URL`, then the store's default; SQLite paths absolute.

    Jobs run in other processes and on other machines, with other working directories,
    so a relative SQLite path would silently name another database there.
    """
    from workbench.store.engine import resolve_url as store_resolve

    try:
        resolved = store_resolve(url)
        make_url(resolved)
    except BadInput:
        raise
    except Exception as exc:  # sqlalchemy's ArgumentError has a terse message
        raise BadInput(f"--db {url!r}: not a database URL ({exc})") from None
    return resolved


def is_sqlite(url: str) -> bool:
    """Whether `url` names a SQLite database (a single machine's file)."""
    return make_url(url).get_backend_name() == "sqlite"


def public_url(url: str) -> str:
    """`url` with its password masked, for reports and logs."""
    return make_url(url).render_as_string(hide_password=True)


def check_reachable(url: str) -> None:
    """Open the store once (short connect timeout); `BadInput` naming the URL when it fails.

    Done before any job starts, so a wrong URL or a server that is down fails in seconds
    instead of once per job on every worker.
    """
    from workbench.store import open_store

    open_store(url)
