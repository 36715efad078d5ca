"""Job rows and run links: the one place batch talks to the results store about jobs.

A job row is a plain dict: `job_id`, `sweep`, `notebook`, `parameters` (dict), `status`
(pending | running | done | failed), `attempts`, `error`, `output` (executed notebook path),
`run_ids` (list), `worker` (host:pid of the process executing it, plus its Dask address),
`started_at`, `finished_at`, `seconds`, `events` (list of strings: retries, interruptions),
`updated_at` (the row's last write: while a job runs, its owner's heartbeat),
`heartbeat_every`, `submission` (the `sweep run` that started the attempt). The store
(`workbench.store`) keeps them in its `jobs` table (`upsert_job/job/jobs`); fields it has no
column for travel in the row's payload. Nothing else in `workbench.batch` talks to the
store about jobs, so a change there stays here.

A job's start is a claim (`JobBook.claim`): a conditional write that succeeds for exactly
one of several concurrent claimers, and only when the row is not `running` under an owner
still alive. Whether an owner is alive is the store's rule for runs
(`workbench.store.queries.stale_reason`: process gone on this host, or no heartbeat for
max(5 intervals, 120 s)), applied to the job row by `attempt_over`; `sweep status` shows a
row `running` whose attempt is over as `interrupted` (`as_seen`), without writing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from workbench import jsonio

STATUSES = ("pending", "running", "done", "failed")
# How `sweep status` shows a `running` row whose attempt is over (never stored).
INTERRUPTED = "interrupted"
# The owner of a running job refreshes its row this often (seconds); a reader gives up on
# it after max(5 intervals, 120 s) without a refresh (the store's rule for runs).
HEARTBEAT_EVERY_S = 30.0
_CLAIM_TRIES = 5
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
    "updated_at",
    "heartbeat_every",
    "submission",
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
        "updated_at": None,
        "heartbeat_every": None,
        "submission": None,
    }


def _owner(worker: str | None) -> tuple[str | None, int]:
    """(host, pid) from a `worker` value "host:pid [dask address]"."""
    first = (worker or "").split(" ", 1)[0]
    host, sep, pid = first.rpartition(":")
    if not sep or not pid.isdigit():
        return None, 0
    return host, int(pid)


def attempt_over(
    row: Mapping[str, Any], now: float | None = None, submission: str | None = None
) -> str | None:
    """Why a `running` job's attempt has ended though its row says running, or None.

    "process_gone" (its process, on this host, is no longer alive), "stale_heartbeat" (no
    write to the row for max(5 heartbeat intervals, 120 s); 30 min when the interval is
    unknown) — the store's rule for runs, on the job's owner — or "worker_lost" (Dask runs
    the task of `submission` again, which it does only after losing the worker that had it).
    """
    if row.get("status") != "running":
        return None
    if submission is not None and row.get("submission") == submission:
        return "worker_lost"
    from workbench.store.queries import stale_reason

    host, pid = _owner(row.get("worker"))
    owner = {
        "status": "running",
        "hostname": host,
        "pid": pid,
        "heartbeat_at": row.get("updated_at") or row.get("started_at"),
        "heartbeat_every": row.get("heartbeat_every"),
        "started_at": row.get("started_at"),
    }
    return stale_reason(owner, time.time() if now is None else now)


_WHY = {
    "process_gone": "its process is gone",
    "stale_heartbeat": "no heartbeat",
    "worker_lost": "its Dask worker was lost",
}


def over_note(row: Mapping[str, Any], reason: str, now: float | None = None) -> str:
    """What became of an attempt that never finished, in words."""
    why = _WHY.get(reason, reason)
    if reason == "stale_heartbeat":
        last = row.get("updated_at") or row.get("started_at") or 0.0
        why += f" for {int((time.time() if now is None else now) - last)} s"
    return f"attempt {row.get('attempts')} on {row.get('worker')} never finished ({why})"


def as_seen(row: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The row as a reader should see it: `interrupted` when its attempt is over.

    Nothing is written: the row stays `running` in the store until a `sweep run` claims
    the job again (and resumes it).
    """
    reason = attempt_over(row, now)
    if reason is None:
        return row
    return {
        **row,
        "status": INTERRUPTED,
        "interrupted_reason": reason,
        "note": f"{over_note(row, reason, now)}; `sweep run` again resumes it",
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

    def ensure(self, job_id: str, sweep: str | None, notebook: str, parameters: dict) -> None:
        """Add a pending row for the job unless it has one (an existing row is kept as is)."""
        self._impl.ensure(job_id, sweep, notebook, parameters)

    def swap(self, seen: dict[str, Any], **changes: Any) -> dict[str, Any] | None:
        """Change a row only if it is still as `seen` (same status and attempts).

        The one atomic step of the job book: of several writers holding the same `seen`,
        exactly one gets the new row back; the others get None (look again).
        """
        row = {**seen, **changes}
        ok = self._impl.swap(seen, {k: row.get(k) for k in FIELDS})
        return row if ok else None

    def claim(
        self,
        job_id: str,
        *,
        sweep: str | None,
        notebook: str,
        parameters: dict,
        worker: str,
        output: str | None = None,
        submission: str | None = None,
        now: float | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Start an attempt at the job: (its row, True) when this caller now owns it.

        (row as found, False) when the job is `running` under an owner still alive (another
        `sweep run`, `batch run` or worker has it): nothing is written. A job whose owner
        is gone (`attempt_over`) is claimed again, and its row says what became of the
        attempt that never finished.
        """
        self.ensure(job_id, sweep, notebook, parameters)
        row: dict[str, Any] | None = None
        for _ in range(_CLAIM_TRIES):
            row = self.get(job_id)
            if row is None:  # deleted under us (its sweep was removed): nothing to run
                raise KeyError(job_id)
            at = time.time() if now is None else now
            events = list(row["events"])
            if row["status"] == "running":
                reason = attempt_over(row, at, submission)
                if reason is None:
                    return row, False
                events.append(f"{over_note(row, reason, at)}; retried")
            mine = self.swap(
                row,
                status="running",
                attempts=int(row["attempts"] or 0) + 1,
                error=None,
                output=output,
                worker=worker,
                started_at=at,
                finished_at=None,
                seconds=None,
                events=events,
                heartbeat_every=HEARTBEAT_EVERY_S,
                submission=submission,
                updated_at=at,
            )
            if mine is not None:
                return mine, True
        # Lost the race every time: someone else keeps starting it; it is theirs.
        return row, False

    def beat(self, job_id: str, attempts: int) -> bool:
        """The owner's heartbeat: refresh the row while it still runs this attempt."""
        return self._impl.beat(job_id, attempts)

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
    EXTRA = ("run_ids", "events", "seconds", "heartbeat_every", "submission")

    def __init__(self, store: Any) -> None:
        self.store = store

    def _columns(self, job: dict[str, Any]) -> dict[str, Any]:
        row = {k: job.get(k) for k in self.COLUMNS}
        row["ended_at"] = job.get("finished_at")
        row["run_id"] = (job.get("run_ids") or [None])[0]
        return row

    def upsert(self, job: dict[str, Any]) -> None:
        row = self._columns(job)
        row["job_id"] = job["job_id"]
        row.update({k: job.get(k) for k in self.EXTRA})
        self.store.upsert_job(row)

    def ensure(self, job_id: str, sweep: str | None, notebook: str, parameters: dict) -> None:
        if self.store.job(job_id) is not None:
            return  # untouched: a write would refresh the heartbeat of someone else's attempt
        # Without status or attempts the store inserts a pending row (it adds the sweep if
        # need be); a row added meanwhile by another runner keeps its status and attempts.
        self.store.upsert_job(
            {"job_id": job_id, "sweep": sweep, "notebook": notebook, "parameters": parameters}
        )

    def swap(self, seen: dict[str, Any], job: dict[str, Any]) -> bool:
        from sqlalchemy import update

        from workbench.store.models import JobRow

        values = self._columns(job)
        values["updated_at"] = job.get("updated_at") or time.time()
        unchanged = (
            (JobRow.job_id == seen["job_id"])
            & (JobRow.status == seen["status"])
            & (JobRow.attempts == int(seen["attempts"] or 0))
        )
        with self.store.session(write=True) as s:
            old = s.get(JobRow, seen["job_id"], with_for_update=True)
            if old is None:
                return False
            values["payload"] = {**(old.payload or {}), **{k: job.get(k) for k in self.EXTRA}}
            # The WHERE clause is the claim: a writer that changed the row first (status or
            # attempts) makes this match nothing, on SQLite and PostgreSQL alike.
            done = s.execute(update(JobRow).where(unchanged).values(**values))
            return done.rowcount == 1

    def beat(self, job_id: str, attempts: int) -> bool:
        from sqlalchemy import update

        from workbench.store.models import JobRow

        ours = (
            (JobRow.job_id == job_id)
            & (JobRow.status == "running")
            & (JobRow.attempts == int(attempts))
        )
        with self.store.session(write=True) as s:
            return (
                s.execute(update(JobRow).where(ours).values(updated_at=time.time())).rowcount == 1
            )

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
    """{status: number of rows} with every status present (`interrupted` included)."""
    counts = dict.fromkeys((*STATUSES, INTERRUPTED), 0)
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts
