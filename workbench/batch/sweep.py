"""Sweeps: a config expanded into jobs, run on Dask, resumable, with progress and status."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.batch.bookkeeping import JobBook, as_seen, count_by_status, new_job
from workbench.batch.config import LoadedSweep, load_sweep
from workbench.batch.jobs import execute_job, make_payload
from workbench.batch.notebook import RESERVED, notebook_parameters, resolve_notebook
from workbench.batch.urls import check_reachable, is_sqlite, public_url, resolve_url
from workbench.errors import BadInput

PROGRESS_EVERY_S = 10.0


@dataclass
class SweepPlan:
    """A validated sweep: its config and one payload per distinct job, in config order."""

    loaded: LoadedSweep
    notebook: Path
    db_url: str
    payloads: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The sweep's name."""
        return self.loaded.config.name

    @property
    def job_ids(self) -> list[str]:
        """Every job id of the sweep."""
        return [p["job_id"] for p in self.payloads]


def plan_sweep(config_path: str | Path, db: str | None = None) -> SweepPlan:
    """Load, validate and expand a sweep; nothing runs. Errors name the file line and key."""
    loaded = load_sweep(config_path)
    cfg = loaded.config
    try:
        notebook = resolve_notebook(cfg.notebook, base=loaded.path.parent)
        accepted = notebook_parameters(notebook)
    except BadInput as exc:
        raise loaded.error(("notebook",), str(exc)) from None
    for name, loc in cfg.parameter_sources().items():
        if name in RESERVED:
            raise loaded.error(loc, "set by the batch runner for every job; remove it")
        if name not in accepted:
            raise loaded.error(
                loc,
                f"notebook {notebook.name} has no parameter {name!r}; "
                f"accepted parameters: {', '.join(a for a in accepted if a not in RESERVED)}",
            )
    plan = SweepPlan(loaded=loaded, notebook=notebook, db_url=resolve_url(db))
    seen: set[str] = set()
    for params in cfg.expand():
        payload = make_payload(
            notebook,
            params,
            db_url=plan.db_url,
            sweep=cfg.name,
            kernel=cfg.kernel,
            timeout=cfg.timeout,
        )
        if payload["job_id"] not in seen:  # the same parameters listed twice: one job
            seen.add(payload["job_id"])
            plan.payloads.append(payload)
    return plan


def _register(book: JobBook, plan: SweepPlan) -> dict[str, dict[str, Any]]:
    """Make sure every job has a row (pending when new); returns the rows by job id."""
    book.register_sweep(plan.name, plan.loaded.config.notebook, plan.loaded.config.model_dump())
    rows = {r["job_id"]: r for r in book.for_sweep(plan.name)}
    missing = [p for p in plan.payloads if p["job_id"] not in rows]
    for p in missing:
        # Insert-if-missing: another `sweep run` may have added and started it meanwhile.
        book.ensure(p["job_id"], plan.name, p["notebook_key"], p["parameters"])
    if missing:
        rows = {r["job_id"]: r for r in book.for_sweep(plan.name)}
    return rows


def _to_run(plan: SweepPlan, rows: dict[str, dict], retry_failed: bool) -> list[dict[str, Any]]:
    """Jobs not done yet; failed ones only when asked (their error is the answer otherwise)."""
    todo = []
    for p in plan.payloads:
        status = rows[p["job_id"]]["status"]
        if status == "done" or (status == "failed" and not retry_failed):
            continue
        todo.append(p)
    return todo


class Progress:
    """Done/failed/running counts and an ETA, printed as the sweep goes."""

    def __init__(self, name: str, total: int, write: Callable[[str], None]) -> None:
        self.name, self.total, self.write = name, total, write
        self.done = self.failed = self.skipped = 0
        self.t0 = time.monotonic()
        self._last = 0.0

    def eta(self, workers: int) -> float | None:
        """Seconds left, from the mean time per finished job spread over the workers."""
        finished = self.done + self.failed
        if not finished:
            return None
        per_job = (time.monotonic() - self.t0) / finished
        return per_job * (self.total - finished - self.skipped)

    def show(self, running: int, workers: int, force: bool = False) -> None:
        """Print a progress line (at most every PROGRESS_EVERY_S unless forced)."""
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_EVERY_S:
            return
        self._last = now
        pending = self.total - self.done - self.failed - self.skipped - running
        eta = self.eta(workers)
        eta_text = "?" if eta is None else time.strftime("%H:%M:%S", time.gmtime(eta))
        elsewhere = f", skipped {self.skipped} (running elsewhere)" if self.skipped else ""
        self.write(
            f"sweep {self.name}: {self.done + self.failed}/{self.total} finished "
            f"(done {self.done}, failed {self.failed}){elsewhere}, running {running}, "
            f"pending {max(0, pending)}, ETA {eta_text}"
        )


def _running(client: Any) -> tuple[int, int]:
    """(tasks being processed, workers) according to the scheduler."""
    try:
        # The scheduler hands a worker a little more than it can run at once; count at
        # most one job per thread as running.
        processing = client.processing()
        nthreads = client.nthreads()
        busy = sum(min(len(v), nthreads.get(w, 1)) for w, v in processing.items())
        return busy, len(processing)
    except Exception:  # progress is best effort; never fail a sweep over it
        return 0, 1


def _killed(book: JobBook, job_id: str, exc: BaseException, limit: int) -> dict[str, Any]:
    """Record a job whose workers kept dying under it as failed."""
    row = book.get(job_id) or {}
    events = [*row.get("events", []), f"gave up: the worker died under it ({exc})"]
    return book.update(
        job_id,
        status="failed",
        error=f"worker died during the job on every try (limit {limit} attempts): {exc}",
        finished_at=time.time(),
        events=events,
    )


def _drive(
    client: Any,
    payloads: list[dict[str, Any]],
    book: JobBook,
    progress: Progress,
    max_attempts: int,
    gpu: bool,
    outstanding: dict[str, Any],
    submission: str,
) -> list[str]:
    """Submit every job and wait for all of them, recording the ones Dask gave up on.

    Returns the jobs skipped because another runner's live process had them.
    """
    from distributed import wait
    from distributed.scheduler import KilledWorker

    resources = {"GPU": 1} if gpu and _has_gpu_workers(client) else None
    by_key = {}
    skipped: list[str] = []
    submitted_at = time.time()
    for p in payloads:
        fut = client.submit(
            execute_job,
            {**p, "submitted_at": submitted_at, "submission": submission},
            key=f"wbjob-{p['job_id']}-{time.time_ns()}",
            pure=False,
            resources=resources,
        )
        outstanding[p["job_id"]] = fut
        by_key[fut.key] = p["job_id"]
    while outstanding:
        running, workers = _running(client)
        progress.show(running, workers)
        try:
            finished = wait(list(outstanding.values()), timeout=2, return_when="FIRST_COMPLETED")
        except TimeoutError:  # nothing finished in this interval: refresh the progress line
            continue
        for fut in finished.done:
            job_id = by_key[fut.key]
            del outstanding[job_id]
            try:
                row = fut.result()
            except KilledWorker as exc:
                row = _killed(book, job_id, exc, max_attempts)
            except (Exception, asyncio.CancelledError) as exc:  # outside the notebook
                row = book.update(
                    job_id,
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}",
                    finished_at=time.time(),
                )
            if row.get("skipped"):
                skipped.append(job_id)
                progress.skipped += 1
            elif row["status"] == "done":
                progress.done += 1
            else:
                progress.failed += 1
            progress.show(*_running(client), force=True)
    return skipped


def _has_gpu_workers(client: Any) -> bool:
    info = client.scheduler_info()
    return any("GPU" in (w.get("resources") or {}) for w in info.get("workers", {}).values())


def _reset_interrupted(book: JobBook, job_ids: list[str], submission: str) -> None:
    """After Ctrl-C: our jobs left running go back to pending, so a rerun picks them up.

    Only the attempts this `sweep run` started: a job another runner holds stays its own.
    """
    for job_id in job_ids:
        row = book.get(job_id)
        if row and row["status"] == "running" and row.get("submission") == submission:
            events = [*row["events"], "interrupted (the sweep was stopped); back to pending"]
            book.swap(row, status="pending", events=events)


def run_sweep(
    config_path: str | Path,
    *,
    db: str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run what is left of a sweep; returns a summary with every job's row."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    plan = plan_sweep(config_path, db)
    if scheduler and is_sqlite(plan.db_url):
        raise BadInput(
            "a Dask cluster (--scheduler) needs a shared database: pass --db "
            "postgresql+psycopg://user@host/db (SQLite files are local to one machine)"
        )
    check_reachable(plan.db_url)
    book = JobBook(plan.db_url)
    rows = _register(book, plan)
    todo = _to_run(plan, rows, retry_failed)
    skipped_failed = [
        p["job_id"]
        for p in plan.payloads
        if rows[p["job_id"]]["status"] == "failed" and not retry_failed
    ]
    summary: dict[str, Any] = {
        "sweep": plan.name,
        "store": public_url(plan.db_url),
        "total": len(plan.payloads),
        "submitted": len(todo),
        "skipped_done": sum(rows[j]["status"] == "done" for j in plan.job_ids),
        "skipped_failed": len(skipped_failed),
        "cluster": None,
    }
    if skipped_failed:
        log(f"sweep {plan.name}: {len(skipped_failed)} failed job(s) skipped (--retry-failed)")
    submission = uuid.uuid4().hex
    skipped: list[str] = []
    if todo:
        cfg = plan.loaded.config
        outstanding: dict[str, Any] = {}
        try:
            from workbench.batch.cluster import connect

            with connect(
                scheduler,
                workers=workers,
                allowed_failures=cfg.max_attempts - 1,
                use_gpus=cfg.gpus_per_job > 0,
            ) as (client, desc):
                summary["cluster"] = desc
                log(f"sweep {plan.name}: {len(todo)} job(s) to run on {desc}")
                progress = Progress(plan.name, len(todo), log)
                skipped = _drive(
                    client,
                    todo,
                    book,
                    progress,
                    cfg.max_attempts,
                    cfg.gpus_per_job > 0,
                    outstanding,
                    submission,
                )
        except KeyboardInterrupt:
            # The local cluster is closed by now, so no worker still writes these rows.
            _reset_interrupted(book, list(outstanding), submission)
            log(f"sweep {plan.name}: stopped; run the same command again to resume")
            raise
    summary["skipped_running"] = len(skipped)
    if skipped:
        log(
            f"sweep {plan.name}: {len(skipped)} job(s) skipped: running elsewhere (another "
            "sweep run holds them and its process is alive)"
        )
    now = time.time()
    final = {r["job_id"]: as_seen(r, now) for r in book.for_sweep(plan.name)}
    summary.update(count_by_status(final[j] for j in plan.job_ids))
    summary["jobs"] = [final[j] for j in plan.job_ids]
    return summary


def sweep_status(
    config_path: str | Path, db: str | None = None, *, now: float | None = None
) -> dict[str, Any]:
    """Where a sweep stands: counts by status and every job's row (starts and writes nothing).

    A job stored as `running` whose attempt is over (its process is gone from this host, or
    its heartbeat stopped) reads as `interrupted`, with a `note`; `sweep run` resumes it.
    """
    plan = plan_sweep(config_path, db)
    check_reachable(plan.db_url)
    book = JobBook(plan.db_url)
    now = time.time() if now is None else now
    rows = {r["job_id"]: as_seen(r, now) for r in book.for_sweep(plan.name)}
    jobs = []
    for p in plan.payloads:
        row = rows.get(p["job_id"]) or new_job(
            p["job_id"], plan.name, p["notebook_key"], p["parameters"]
        )
        jobs.append(row)
    return {
        "sweep": plan.name,
        "store": public_url(plan.db_url),
        "total": len(jobs),
        **count_by_status(jobs),
        "jobs": jobs,
    }
