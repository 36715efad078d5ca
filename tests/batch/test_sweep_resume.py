"""A sweep stopped by Ctrl-C, then killed outright, resumes to completion with no run twice."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.batch.helpers import ROOT, cli_env, cli_json, runs_by_job, write_sweep
from workbench.store import open_store


def wait_for(what: str, check: Callable[[], bool], proc: subprocess.Popen, limit: float) -> None:
    """Poll `check` until true; fail with `what` when `proc` ends first or time runs out."""
    deadline = time.monotonic() + limit
    while not check():
        assert proc.poll() is None, f"the sweep ended before {what}: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _owner_pid(worker: str) -> int:
    """The pid in a job row's `worker` ("host:pid [dask address]")."""
    return int(worker.split(" ", 1)[0].rpartition(":")[2])


def wait_for_exit(pid: int, limit: float) -> None:
    """Poll until process `pid` has exited (or is a zombie); fail when time runs out."""
    from workbench.store.queries import _pid_alive

    deadline = time.monotonic() + limit
    while _pid_alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still alive"
        time.sleep(0.1)


def _start_sweep(config: Path, url: str) -> subprocess.Popen:
    # A session of its own, like a job in a terminal: Ctrl-C reaches the whole group.
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "sweep",
            "run",
            str(config),
            "--workers",
            "2",
            "--db",
            url,
        ],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _mid_run(url: str, since: float) -> Callable[[], bool]:
    """True once a job started after `since` has its run recorded and still running."""
    store = open_store(url)

    def check() -> bool:
        for job in store.jobs("resume"):
            if job["status"] == "running" and (job["started_at"] or 0) > since:
                runs = store.runs(job_id=job["job_id"])
                if len(runs) and (runs["status"] == "running").any():
                    return True
        return False

    return check


def _cleanup(proc: subprocess.Popen) -> None:
    # Local workers exit with their parent (they watch it); sweep up the group anyway.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()


def test_interrupted_sweep_resumes_without_duplicates(tmp_path: Path, sqlite_url: str) -> None:
    config = write_sweep(
        tmp_path, "resume", "parameters: {sleep: 0.5}\ngrid:\n  seed: [0, 1, 2, 3, 4]\n"
    )
    store = open_store(sqlite_url)

    # 1. Ctrl-C: a clean stop, exit 130, nothing left "running".
    proc = _start_sweep(config, sqlite_url)
    try:
        wait_for("a job mid-run", _mid_run(sqlite_url, 0.0), proc, limit=150)
        os.killpg(proc.pid, signal.SIGINT)
        err = proc.communicate(timeout=90)[1]
    finally:
        _cleanup(proc)
    assert proc.returncode == 130, err[-3000:]
    assert "run the same command again to resume" in err
    states = [j["status"] for j in store.jobs("resume")]
    assert "running" not in states and "pending" in states

    # 2. SIGKILL mid-run: no chance to clean up at all.
    proc = _start_sweep(config, sqlite_url)
    try:
        wait_for("a job mid-run", _mid_run(sqlite_url, time.time()), proc, limit=150)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        _cleanup(proc)
    before = {j["job_id"]: j["status"] for j in store.jobs("resume")}
    assert "running" in before.values()
    # `sweep status` tells the truth from the store alone: those rows still say running,
    # but their processes are gone, so the jobs read as interrupted (and nothing is written).
    owners = [_owner_pid(j["worker"]) for j in store.jobs("resume") if j["status"] == "running"]
    for pid in owners:  # SIGKILL is delivered at once, but the exit is not synchronous
        wait_for_exit(pid, limit=30)
    status = cli_json("sweep", "status", str(config), "--db", sqlite_url)
    stuck = [j for j in status["jobs"] if before[j["job_id"]] == "running"]
    assert status["running"] == 0 and status["interrupted"] == len(stuck) > 0
    assert all(j["status"] == "interrupted" for j in stuck)
    assert all("`sweep run` again resumes it" in j["note"] for j in stuck)
    assert {j["job_id"]: j["status"] for j in store.jobs("resume")} == before

    # 3. The same command again finishes the sweep: every job done, one run each.
    summary = cli_json("sweep", "run", str(config), "--workers", "2", "--db", sqlite_url)
    assert summary["done"] == 5 and summary["failed"] == 0
    assert summary["submitted"] == sum(s != "done" for s in before.values())
    runs = runs_by_job(sqlite_url)
    assert set(runs) == {j["job_id"] for j in summary["jobs"]}
    assert all(len(r) == 1 for r in runs.values()), runs
    assert open_store(sqlite_url).runs()["status"].tolist() == ["completed"] * 5
    # A job caught mid-run shows the extra attempt and says what happened to the first.
    retried = [j for j in summary["jobs"] if before[j["job_id"]] == "running"]
    assert retried and all(j["attempts"] >= 2 and j["events"] for j in retried)
