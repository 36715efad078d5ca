"""Batch-test fixtures: a SQLite store URL per test and a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.conftest import need_service

TEST_DB_URL = os.environ.get("TEST_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def sqlite_url(_isolated_store) -> str:
    """An absolute SQLite URL under the test's store root."""
    return f"sqlite:///{_isolated_store / 'workbench.sqlite'}"


@pytest.fixture
def pg_url() -> str:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(TEST_DB_URL)
    try:
        admin = create_engine(
            admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        need_service(False, f"PostgreSQL at {admin_url.render_as_string(hide_password=True)}")
    name = f"wb_batch_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from workbench.store.engine import forget_engine

        forget_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
