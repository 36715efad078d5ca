"""One job run here and now: `workbench batch run NOTEBOOK -p name value …`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.batch.jobs import execute_job, make_payload
from workbench.batch.notebook import resolve_notebook
from workbench.batch.urls import check_reachable, resolve_url


def run_notebook(
    notebook: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    db: str | None = None,
    kernel: str | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Execute `notebook` with `parameters` through papermill; returns the job row."""
    path = resolve_notebook(notebook)
    url = resolve_url(db)
    payload = make_payload(path, dict(parameters or {}), db_url=url, kernel=kernel, timeout=timeout)
    check_reachable(url)
    return execute_job(payload)
