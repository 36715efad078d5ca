"""Job rows and run links: the one place batch talks to the results store about jobs.

A job row is a plain dict: `job_id`, `sweep`, `notebook`, `parameters` (dict), `status`
(pending | running | done | failed), `attempts`, `error`, `output` (executed notebook path),
`run_ids` (list), `worker`, `started_at`, `finished_at`, `seconds`, `events` (list of
strings: retries, interruptions). The store (`workbench.store`) keeps them in its `jobs` table
(`upsert_job/job/jobs`); fields it has no column for travel in the row's payload. Nothing
else in `workbench.batch` talks to the store about jobs, so a change there stays here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from workbench import jsonio

STATUSES = ("pending", "running", "done", "failed")
FIELDS = (
    "job_id",
    "sweep",
    "notebook",
    "parameters",
    "status",
    "attempts",
    "error",
    "output",
    "run_ids",
    "worker",
    "started_at",
    "finished_at",
    "seconds",
    "events",
)


def new_job(job_id: str, sweep: str | None, notebook: str, parameters: dict) -> dict[str, Any]:
    """A pending job row."""
    return {
        "job_id": job_id,
        "sweep": sweep,
        "notebook": notebook,
        "parameters": parameters,
        "status": "pending",
        "attempts": 0,
        "error": None,
        "output": None,
        "run_ids": [],
        "worker": None,
        "started_at": None,
        "finished_at": None,
        "seconds": None,
        "events": [],
    }


class JobBook:
    """Job rows of one database, kept by the store."""

    def __init__(self, url: str) -> None:
        self.url = url
        from workbench.store import open_store

        self._store = open_store(url)
        self._impl = _StoreJobs(self._store)

    def upsert(self, job: dict[str, Any]) -> None:
        """Insert or replace the row of `job["job_id"]`."""
        self._impl.upsert({k: job.get(k) for k in FIELDS})

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The row of `job_id`, or None."""
        return self._impl.get(job_id)

    def for_sweep(self, sweep: str) -> list[dict[str, Any]]:
        """Every row of `sweep`."""
        return self._impl.for_sweep(sweep)

    def update(self, job_id: str, **changes: Any) -> dict[str, Any]:
        """Change some fields of an existing row (read-modify-write; one writer per job)."""
        row = self.get(job_id)
        if row is None:
            raise KeyError(job_id)
        row.update(changes)
        self.upsert(row)
        return row

    def register_sweep(self, name: str, notebook: str, spec: dict[str, Any]) -> None:
        """Record the sweep itself (the store keeps sweeps; the fallback needs no row)."""
        self._store.upsert_sweep(name, spec=spec, notebook=notebook)

    def run_ids(self, job_id: str) -> list[str]:
        """The runs the store recorded under `job_id` (the job's link to its results)."""
        return _runs_for_job(self._store, job_id)


# ---------------------------------------------------------------------------------------
# Over the store.


def _runs_for_job(store: Any, job_id: str) -> list[str]:
    frame = store.runs(job_id=job_id)
    return [str(r) for r in frame["run_id"].tolist()] if len(frame) else []


class _StoreJobs:
    """Rows kept in the store's `jobs` table: our extra fields travel in its payload."""

    COLUMNS = (
        "sweep",
        "notebook",
        "parameters",
        "status",
        "output",
        "error",
        "worker",
        "attempts",
        "started_at",
    )
    EXTRA = ("run_ids", "events", "seconds")

    def __init__(self, store: Any) -> None:
        self.store = store

    def upsert(self, job: dict[str, Any]) -> None:
        row = {k: job.get(k) for k in self.COLUMNS}
        row["job_id"] = job["job_id"]
        row["ended_at"] = job.get("finished_at")
        row["run_id"] = (job.get("run_ids") or [None])[0]
        row.update({k: job.get(k) for k in self.EXTRA})
        self.store.upsert_job(row)

    def _mine(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {k: row.get(k) for k in FIELDS}
        out["finished_at"] = row.get("ended_at")
        if not out.get("run_ids") and row.get("run_id"):
            out["run_ids"] = [row["run_id"]]
        return _normalise(out)

    def get(self, job_id: str) -> dict[str, Any] | None:
        row = self.store.job(job_id)
        return self._mine(row) if row is not None else None

    def for_sweep(self, sweep: str) -> list[dict[str, Any]]:
        return [self._mine(r) for r in self.store.jobs(sweep)]


def _normalise(row: Any) -> dict[str, Any]:
    row = dict(row)
    for key, empty in (("parameters", {}), ("run_ids", []), ("events", [])):
        value = row.get(key)
        if isinstance(value, str):
            value = jsonio.loads(value)
        row[key] = value if value is not None else empty
    return row


def count_by_status(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """{status: number of rows} with every status present."""
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts
