"""Alembic migrations of the results store (run by `workbench.store.migrate`)."""
