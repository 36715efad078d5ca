"""Alembic environment: uses the connection handed over by `workbench.store.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from workbench.store.migrate import VERSION_TABLE
from workbench.store.models import SQLModel

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic command line: -x url=...
    url = context.get_x_argument(as_dictionary=True).get("url")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
