"""A job's start is an atomic claim; a job whose owner is gone reads as interrupted.

The claim runs against SQLite and PostgreSQL; liveness is the store's rule for runs
(process gone on this host, or no heartbeat for max(5 intervals, 120 s)), judged at an
explicit `now` so that no test depends on the wall clock.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.batch.helpers import cli_json, main_json, runs_by_job, write_sweep
from workbench.batch.bookkeeping import HEARTBEAT_EVERY_S, JobBook, as_seen, attempt_over
from workbench.batch.jobs import _finish, execute_job
from workbench.batch.sweep import plan_sweep
from workbench.store import open_store

HOST = socket.gethostname()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    """The job book's database: SQLite file, then a fresh PostgreSQL database."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def _dead_pid() -> int:
    """The pid of a process of ours that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@contextlib.contextmanager
def _live_process() -> Iterator[subprocess.Popen]:
    """A process that stays alive until the block ends (an owner that is still working)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _claim(book: JobBook, job_id: str, worker: str, **kw):
    return book.claim(job_id, sweep=None, notebook="nb.ipynb", parameters={}, worker=worker, **kw)


def test_two_claims_on_the_same_row_exactly_one_wins(url: str) -> None:
    book = JobBook(url)
    book.ensure("j1", None, "nb.ipynb", {"seed": 0})
    seen = book.get("j1")
    assert (seen["status"], seen["attempts"]) == ("pending", 0)
    start = {"status": "running", "attempts": 1, "started_at": 1.0}
    first = book.swap(seen, worker=f"{HOST}:1 a", **start)
    second = book.swap(seen, worker=f"{HOST}:2 b", **start)
    assert first is not None and second is None
    row = book.get("j1")
    assert (row["status"], row["attempts"], row["worker"]) == ("running", 1, f"{HOST}:1 a")
    # A row that is missing cannot be claimed from a snapshot either.
    assert book.swap({**seen, "job_id": "nobody"}, **start) is None


def test_concurrent_claims_have_one_winner_and_write_nothing_else(url: str) -> None:
    book = JobBook(url)
    n = 6
    barrier = threading.Barrier(n)
    results: list[tuple[dict, bool]] = []

    def claimer(i: int) -> None:
        barrier.wait()
        results.append(_claim(book, "j2", f"{HOST}:{os.getpid()} claimer{i}"))

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [row for row, mine in results if mine]
    assert len(results) == n and len(winners) == 1
    row = book.get("j2")
    assert (row["status"], row["attempts"], row["events"]) == ("running", 1, [])
    assert row["worker"] == winners[0]["worker"]
    # The others saw it running under a live owner (this very process) and backed off.
    assert all(r["status"] == "running" for r, mine in results if not mine)


def test_a_dead_owners_job_reads_interrupted_and_is_claimed_again(url: str) -> None:
    book = JobBook(url)
    dead = f"{HOST}:{_dead_pid()} tcp://127.0.0.1:1"
    row, mine = _claim(book, "j3", dead)
    assert mine and row["attempts"] == 1
    stored = book.get("j3")
    assert attempt_over(stored) == "process_gone"
    seen = as_seen(stored)
    assert seen["status"] == "interrupted" and seen["interrupted_reason"] == "process_gone"
    assert "never finished" in seen["note"] and "`sweep run` again resumes it" in seen["note"]
    assert book.get("j3")["status"] == "running"  # reading wrote nothing

    row, mine = _claim(book, "j3", f"{HOST}:{os.getpid()}")
    assert mine
    row = book.get("j3")
    assert (row["status"], row["attempts"], row["worker"]) == (
        "running",
        2,
        f"{HOST}:{os.getpid()}",
    )
    assert row["events"] == [f"attempt 1 on {dead} never finished (its process is gone); retried"]


def test_a_live_owner_keeps_its_job_until_its_heartbeat_stops(url: str) -> None:
    book = JobBook(url)
    far = "elsewhere.example:4242 tcp://10.0.0.9:4000"  # another host: only heartbeats tell
    row, mine = _claim(book, "j4", far, now=1000.0)
    assert mine and row["heartbeat_every"] == HEARTBEAT_EVERY_S
    before = book.get("j4")
    limit = max(5 * HEARTBEAT_EVERY_S, 120.0)
    row, mine = _claim(book, "j4", f"{HOST}:{os.getpid()}", now=1000.0 + limit - 1)
    assert not mine and row["worker"] == far
    assert book.get("j4") == before  # the loser recorded nothing
    assert as_seen(before, now=1000.0 + limit - 1)["status"] == "running"
    assert as_seen(before, now=1000.0 + limit + 1)["status"] == "interrupted"

    row, mine = _claim(book, "j4", f"{HOST}:{os.getpid()}", now=1000.0 + limit + 1)
    assert mine and row["attempts"] == 2
    assert "never finished (no heartbeat for 151 s); retried" in row["events"][0]


def test_heartbeat_refreshes_only_the_owners_attempt(url: str) -> None:
    book = JobBook(url)
    row, _ = _claim(book, "j5", f"{HOST}:{os.getpid()}", now=1000.0)
    assert book.get("j5")["updated_at"] == 1000.0
    assert book.beat("j5", row["attempts"])
    assert book.get("j5")["updated_at"] > 1000.0
    assert not book.beat("j5", row["attempts"] + 1)  # someone else's attempt: left alone


def test_dask_rerunning_the_same_submission_takes_the_job_back(url: str) -> None:
    # Dask runs a task again only after losing the worker that had it: same submission.
    book = JobBook(url)
    with _live_process() as owner:
        _claim(book, "j6", f"other-host:{owner.pid}", submission="s1", now=1000.0)
        row, mine = _claim(book, "j6", f"{HOST}:{os.getpid()}", submission="s2", now=1001.0)
        assert not mine
        row, mine = _claim(book, "j6", f"{HOST}:{os.getpid()}", submission="s1", now=1001.0)
        assert mine and "its Dask worker was lost" in row["events"][0]


def test_a_job_running_elsewhere_is_skipped_and_status_tells_the_truth(
    tmp_path: Path, sqlite_url: str, capsys
) -> None:
    config = write_sweep(tmp_path, "held", "parameters: {sleep: 0.0}\ngrid: {seed: [0]}\n")
    plan = plan_sweep(config, sqlite_url)
    payload = plan.payloads[0]
    job_id = payload["job_id"]
    book = JobBook(sqlite_url)
    with _live_process() as owner:
        # Another runner's live process holds the job (a long heartbeat interval, so that
        # the test does not depend on how quickly it runs).
        row, mine = book.claim(
            job_id,
            sweep="held",
            notebook=payload["notebook_key"],
            parameters=payload["parameters"],
            worker=f"{HOST}:{owner.pid} tcp://127.0.0.1:1",
        )
        assert mine
        held = book.swap(row, heartbeat_every=3600.0)
        assert held is not None
        before = book.get(job_id)

        # A second runner on the same job: skipped, nothing run, nothing written.
        skipped = execute_job(payload)
        assert skipped["skipped"].startswith("running elsewhere")
        assert book.get(job_id) == before and runs_by_job(sqlite_url) == {}

        summary = cli_json("sweep", "run", str(config), "--workers", "1", "--db", sqlite_url)
        assert (summary["submitted"], summary["skipped_running"]) == (1, 1)
        assert (summary["running"], summary["done"], summary["failed"]) == (1, 0, 0)
        assert book.get(job_id) == before and runs_by_job(sqlite_url) == {}

        status = main_json(capsys, "sweep", "status", str(config), "--db", sqlite_url)
        assert (status["running"], status["interrupted"]) == (1, 0)

    # The owner is gone: status says so (and still writes nothing).
    status = main_json(capsys, "sweep", "status", str(config), "--db", sqlite_url)
    assert (status["running"], status["interrupted"], status["pending"]) == (0, 1, 0)
    job = status["jobs"][0]
    assert job["status"] == "interrupted" and job["interrupted_reason"] == "process_gone"
    assert "never finished" in job["note"] and "`sweep run` again resumes it" in job["note"]
    assert book.get(job_id) == before
    from workbench.cli import main

    assert main(["sweep", "status", str(config), "--db", sqlite_url]) == 0
    text = capsys.readouterr().out
    assert "interrupted 1" in text and f"interrupted {job_id}: attempt 1 on" in text
    assert open_store(sqlite_url).job(job_id)["status"] == "running"


def test_a_running_job_keeps_its_row_fresh(sqlite_url: str, monkeypatch) -> None:
    import time

    from workbench.batch import jobs

    monkeypatch.setattr(jobs, "HEARTBEAT_EVERY_S", 0.05)
    book = JobBook(sqlite_url)
    row, _ = _claim(book, "j7", f"{HOST}:{os.getpid()}", now=1000.0)
    deadline = time.monotonic() + 30
    with jobs._heartbeat(book, row):
        while book.get("j7")["updated_at"] == 1000.0:  # wait for the first beat
            assert time.monotonic() < deadline, "no heartbeat reached the row"
            time.sleep(0.05)
    assert attempt_over(book.get("j7")) is None


def test_an_attempt_taken_over_leaves_the_new_owners_row_alone(url: str, tmp_path: Path) -> None:
    book = JobBook(url)
    first, mine = _claim(book, "j9", f"{HOST}:{_dead_pid()} a")
    assert mine
    # Its owner looks gone (say its heartbeat lapsed): another runner takes the job over.
    second, mine = _claim(book, "j9", f"{HOST}:{os.getpid()} b")
    assert mine and second["attempts"] == 2
    late = _finish(book, first, "done", None, 1.5, tmp_path / "missing.ipynb")
    assert "taken over" in late["superseded"] and late["status"] == "done"
    row = book.get("j9")
    assert (row["status"], row["attempts"], row["worker"]) == ("running", 2, second["worker"])
    # The owner of the row records its own end.
    final = _finish(book, second, "failed", "boom", 2.0, tmp_path / "missing.ipynb")
    assert "superseded" not in final
    row = book.get("j9")
    assert (row["status"], row["attempts"], row["error"], row["seconds"]) == (
        "failed",
        2,
        "boom",
        2.0,
    )
