"""Store fixtures: one contract, three backends (in-memory SQLite, file SQLite, PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import need_service
from workbench.store import Store, open_store

TEST_DB_URL = os.environ.get("TEST_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["memory", "file", "postgres"]
_TABLES = (
    "rule_decisions",
    "verdicts",
    "eval_points",
    "search_ledger",
    "searches",
    "runs",
    "jobs",
    "sweeps",
    "policies",
    "tasks",
)


def _server_up() -> bool:
    try:
        eng = create_engine(TEST_DB_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Callable[[], str]]:
    """A factory of fresh, uniquely named PostgreSQL databases; all dropped at the end."""
    need_service(_server_up(), f"PostgreSQL at {make_url(TEST_DB_URL).render_as_string()}")
    admin = create_engine(TEST_DB_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"wb_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(TEST_DB_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    from workbench.store import engine as store_engine

    for name in made:
        url = make_url(TEST_DB_URL).set(database=name).render_as_string(hide_password=False)
        store_engine.forget_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url(pg_databases: Callable[[], str]) -> str:
    """One PostgreSQL database for the session's contract tests (emptied between tests)."""
    return pg_databases()


def _empty(store: Store) -> None:
    with store.session(write=True) as s:
        s.execute(text("TRUNCATE " + ", ".join(_TABLES) + " CASCADE"))


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "memory":
        url = f"sqlite:///:memory:?test={uuid.uuid4().hex}"
    elif request.param == "file":
        url = f"sqlite:///{tmp_path / 'workbench.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    yield url
    from workbench.store import engine as store_engine

    if request.param == "postgres":
        _empty(open_store(url))
    else:
        store_engine.forget_engine(url)


@pytest.fixture
def store(store_url: str) -> Store:
    """An open store on each backend."""
    return open_store(store_url)
