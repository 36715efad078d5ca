"""One job: a notebook executed through papermill, its executed copy kept, its row recorded.

`execute_job(payload)` is what a Dask worker (or `workbench batch run`) calls. The payload
is a plain JSON-able dict so that it travels to any worker; it carries the absolute store
URL and store root, because a worker's environment and working directory are not ours.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from workbench.batch.bookkeeping import HEARTBEAT_EVERY_S, JobBook
from workbench.batch.notebook import INJECTED, RESERVED, check_parameters, notebook_key
from workbench.errors import BadInput
from workbench.paths import store_root

ADHOC = "adhoc"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def job_id_for(sweep: str | None, notebook: str, parameters: Mapping[str, Any]) -> str:
    """Stable job id: hash of (sweep name, notebook, parameters) — DESIGN.md "Sweep jobs".

    The store's definition, so that ids computed anywhere agree.
    """
    from workbench.store import job_id_for as store_job_id

    return store_job_id(sweep, notebook, dict(parameters))  # type: ignore[arg-type]


def output_path(root: Path, sweep: str | None, job_id: str) -> Path:
    """Where the executed notebook goes: store/runs/<sweep or 'adhoc'>/<job_id>.ipynb."""
    return root / "runs" / (sweep or ADHOC) / f"{job_id}.ipynb"


def make_payload(
    notebook: Path,
    parameters: Mapping[str, Any],
    *,
    db_url: str,
    sweep: str | None = None,
    kernel: str | None = None,
    timeout: float | None = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """Validate a job against its notebook and build the dict a worker executes."""
    reserved = [k for k in parameters if k in RESERVED]
    if reserved:
        raise BadInput(
            f"parameter(s) {', '.join(reserved)} are set by the batch runner, not by a sweep"
        )
    accepted = check_parameters(notebook, parameters)
    key = notebook_key(notebook)
    job_id = job_id_for(sweep, key, parameters)
    root = (root or store_root()).resolve()
    # The store URL reaches the kernel through WORKBENCH_DB_URL only: an injected parameter
    # would be written into the executed notebook, password included.
    injected = dict(zip(INJECTED, (job_id, sweep), strict=True))
    return {
        "job_id": job_id,
        "sweep": sweep,
        "notebook": str(notebook.resolve()),
        "notebook_key": key,
        "parameters": dict(parameters),
        "injected": {k: v for k, v in injected.items() if k in accepted},
        "db_url": db_url,
        "store_root": str(root),
        "output": str(output_path(root, sweep, job_id)),
        "kernel": kernel,
        "timeout": timeout,
    }


def _worker_name() -> str:
    """host:pid, plus the Dask worker address when running on one."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    try:
        from distributed import get_worker

        return f"{name} {get_worker().address}"
    except (ImportError, ValueError):
        return name


def job_environment(payload: Mapping[str, Any]) -> dict[str, str]:
    """What the kernel gets in its environment: the store, the job, and inline figures."""
    return {
        "WORKBENCH_DB_URL": payload["db_url"],
        "WORKBENCH_HOME": payload["store_root"],
        "WORKBENCH_JOB_ID": payload["job_id"] or "",
        "WORKBENCH_SWEEP": payload["sweep"] or "",
        # Figures become image outputs of the executed notebook (and so of reports), even
        # when the caller's environment selects a non-interactive backend such as Agg.
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }


def kernel_manager_for(env: Mapping[str, str]) -> type:
    """A kernel manager class that starts its kernel with `env` added to ours.

    Per kernel rather than through os.environ, so that jobs running side by side in one
    worker process (a worker with several threads) never see each other's values.
    """
    from jupyter_client import AsyncKernelManager

    extra = dict(env)

    class JobKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            kw["env"] = {**(kw.get("env") or os.environ), **extra}
            return await super()._async_pre_start_kernel(**kw)

    return JobKernelManager


def execute(
    payload: Mapping[str, Any], output: Path, parameters: Mapping[str, Any], **kw: Any
) -> None:
    """papermill.execute_notebook with the job's kernel environment."""
    import papermill as pm

    pm.execute_notebook(
        str(payload["notebook"]),
        str(output),
        parameters=dict(parameters),
        kernel_name=payload.get("kernel"),
        progress_bar=False,
        execution_timeout=payload.get("timeout"),
        cwd=str(Path(payload["notebook"]).parent),
        kernel_manager_class=kernel_manager_for(job_environment(payload)),
        **kw,
    )


def _start(book: JobBook, payload: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Claim the job (one more attempt): (row, True), or (row, False) when it runs elsewhere.

    An earlier attempt that never ended (its owner is gone) is noted in the row's events.
    """
    return book.claim(
        payload["job_id"],
        sweep=payload["sweep"],
        notebook=payload["notebook_key"],
        parameters=payload["parameters"],
        worker=_worker_name(),
        output=payload["output"],
        submission=payload.get("submission"),
    )


@contextlib.contextmanager
def _heartbeat(book: JobBook, row: Mapping[str, Any]) -> Iterator[None]:
    """Refresh the job's row every HEARTBEAT_EVERY_S while the block runs (best effort)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_EVERY_S):
            with contextlib.suppress(Exception):  # a missed beat must not end the job
                if not book.beat(row["job_id"], row["attempts"]):
                    return  # no longer ours (finished or claimed by someone else)

    thread = threading.Thread(target=beat, name=f"wb-heartbeat-{row['job_id']}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _error_text(exc: BaseException) -> str:
    """A readable error: the notebook's own exception and traceback when it raised."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        tb = "\n".join(exc.traceback[-6:]) if exc.traceback else ""
        text = f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})\n{tb}"
    else:
        text = "".join(traceback.format_exception(exc))
    return _ANSI.sub("", text)[-4000:]


def _finished_in_this_submission(book: JobBook, payload: Mapping[str, Any]) -> dict | None:
    """The row, when this very submission already ran the job to its end.

    Dask recomputes a task whose result was lost with its worker (finished, then the worker
    died before the client fetched the result): the job must not run a second time.
    """
    submitted = payload.get("submitted_at")
    row = book.get(payload["job_id"]) if submitted is not None else None
    if row and row["status"] in ("done", "failed") and (row["finished_at"] or 0) >= submitted:
        return row
    return None


def execute_job(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Run one job to done or failed; returns its final row (never raises for a notebook error).

    When the job is already running under a live owner (another `sweep run`), nothing runs
    and nothing is written: the row comes back as found, with `skipped` saying why.
    """
    book = JobBook(payload["db_url"])
    earlier = _finished_in_this_submission(book, payload)
    if earlier is not None:
        return earlier
    row, mine = _start(book, payload)
    if not mine:  # another runner's live process has it: leave it to them, record nothing
        return {
            **row,
            "skipped": f"running elsewhere: attempt {row['attempts']} on "
            f"{row['worker']} is still alive",
        }
    out = Path(payload["output"])
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        with _heartbeat(book, row):
            execute(payload, out, {**payload["parameters"], **payload["injected"]})
        status, error = "done", None
    except Exception as exc:  # the notebook raised, timed out or its kernel died
        status, error = "failed", _error_text(exc)
    return _finish(book, row, status, error, time.monotonic() - t0, out)


def _finish(
    book: JobBook, row: dict[str, Any], status: str, error: str | None, seconds: float, out: Path
) -> dict[str, Any]:
    """Record the attempt's end, only while the row is still this attempt's.

    When this owner's heartbeat lapsed (e.g. the database was unreachable for minutes) and
    another runner took the job over, the row is theirs: it is left alone, and what this
    attempt did comes back under `superseded` (its runs stay in the store either way).
    """
    changes = {
        "status": status,
        "error": error,
        "run_ids": book.run_ids(row["job_id"]),
        "finished_at": time.time(),
        "seconds": round(seconds, 3),
        "output": str(out) if out.is_file() else None,
        "updated_at": time.time(),
    }
    final = book.swap(row, **changes)
    if final is not None:
        return final
    return {
        **row,
        **changes,
        "superseded": f"attempt {row['attempts']} ended {status}, but the job was taken over "
        "by another runner meanwhile; its row was left to that runner",
    }
