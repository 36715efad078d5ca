"""Lazy access to the results store, so views load without it and say clearly when it is missing."""

from __future__ import annotations

from typing import Any


class MissingPackage(RuntimeError):
    """A part of a view needs a workbench package that is not installed or not built yet."""


def need(module: str) -> Any:
    """Import `workbench.<module>` or raise MissingPackage naming it."""
    import importlib

    try:
        return importlib.import_module(f"workbench.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"workbench.{module}"):
            raise MissingPackage(f"needs workbench.{module} (not available: {exc})") from None
        raise


def open_store(store: Any = None, db_url: str | None = None) -> Any:
    """`store` if given, else `workbench.store.open_store(db_url)`."""
    if store is not None:
        return store
    return need("store").open_store(db_url)


def records(table: Any) -> list[dict[str, Any]]:
    """Rows of a DataFrame or a list of dicts, as a list of dicts."""
    if table is None:
        return []
    if hasattr(table, "to_dict"):
        return list(table.to_dict("records"))
    return [dict(r) for r in table]
