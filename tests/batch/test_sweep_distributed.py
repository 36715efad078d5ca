"""A sweep on a Dask cluster of separate processes, with PostgreSQL, losing a worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.batch.helpers import ROOT, cli, cli_env, cli_json, runs_by_job, write_sweep
from tests.batch.test_sweep_resume import wait_for
from workbench.store import open_store

DASK = [sys.executable, "-m", "distributed.cli.dask_worker"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=cli_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, dict[str, subprocess.Popen]]]:
    """`dask scheduler` and two `dask worker` processes (no nanny) on loopback."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    procs = {
        "scheduler": _start(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--no-dashboard",
            ],
            tmp_path / "scheduler.log",
        )
    }
    try:
        for name in ("wA", "wB"):
            procs[name] = _start(
                [
                    *DASK,
                    address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--name",
                    name,
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                ],
                tmp_path / f"{name}.log",
            )
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address, procs
    finally:
        for proc in procs.values():
            _stop(proc)


def test_unreachable_scheduler_fails_fast(tmp_path: Path, pg_url: str) -> None:
    config = write_sweep(tmp_path, "far", "grid: {seed: [0]}\n")
    t0 = time.monotonic()
    proc = cli(
        "sweep",
        "run",
        str(config),
        "--scheduler",
        f"tcp://127.0.0.1:{_free_port()}",
        "--db",
        pg_url,
        timeout=120,
    )
    assert proc.returncode == 2 and "not reachable" in proc.stderr
    assert time.monotonic() - t0 < 90  # the connect timeout, not a hang


def test_sweep_survives_a_killed_worker(tmp_path: Path, pg_url: str, cluster) -> None:
    address, procs = cluster
    config = write_sweep(
        tmp_path,
        "dist",
        """
        parameters: {sleep: 0.6}
        grid:
          seed: [0, 1, 2, 3]
    """,
    )
    sweep = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "sweep",
            "run",
            str(config),
            "--scheduler",
            address,
            "--db",
            pg_url,
            "--json",
        ],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    victim = procs["wA"].pid
    store = open_store(pg_url)

    def victim_mid_run() -> bool:
        mine = [
            j["job_id"]
            for j in store.jobs("dist")
            if j["status"] == "running" and f":{victim} " in (j["worker"] or "")
        ]
        if not mine:
            return False
        runs = store.runs(job_id=mine[0])
        return bool(len(runs)) and (runs["status"] == "running").any()

    try:
        wait_for("a job running on worker wA", victim_mid_run, sweep, limit=150)
        procs["wA"].send_signal(signal.SIGKILL)
        out, err = sweep.communicate(timeout=240)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    assert sweep.returncode == 0, err[-3000:]
    from workbench import jsonio

    summary = jsonio.loads(out)
    assert summary["done"] == 4 and summary["failed"] == 0
    assert summary["cluster"].startswith(f"scheduler {address}")
    runs = runs_by_job(pg_url)
    assert set(runs) == {j["job_id"] for j in summary["jobs"]}
    assert all(len(r) == 1 for r in runs.values()), runs
    # The job that lost its worker was retried elsewhere, and its row says so.
    moved = [j for j in summary["jobs"] if j["attempts"] >= 2]
    assert moved and all("never finished" in " ".join(j["events"]) for j in moved)
    assert all(f":{victim} " not in j["worker"] for j in moved)
    # A later status call sees the same, from the database alone.
    status = cli_json("sweep", "status", str(config), "--db", pg_url)
    assert status["done"] == 4
