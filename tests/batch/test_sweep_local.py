"""Sweeps on a local Dask cluster: all jobs recorded once, reruns skip, failures isolated."""

from __future__ import annotations

from pathlib import Path

import nbformat

from tests.batch.helpers import cli, cli_json, runs_by_job, write_sweep
from workbench import jsonio


def test_four_job_sweep_then_nothing_to_do(
    tmp_path: Path, sqlite_url: str, _isolated_store: Path
) -> None:
    config = write_sweep(
        tmp_path,
        "four",
        """
        parameters: {lr: 0.1}
        grid:
          seed: [0, 1]
          sleep: [0.0, 0.1]
    """,
    )
    proc = cli("sweep", "run", str(config), "--workers", "2", "--db", sqlite_url, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = jsonio.loads(proc.stdout)
    # Progress on stderr: counts by state and an ETA once a job has finished.
    assert "4/4 finished (done 4, failed 0), running 0, pending 0" in proc.stderr
    assert "ETA 00:" in proc.stderr
    assert (first["total"], first["submitted"], first["done"], first["failed"]) == (4, 4, 4, 0)
    assert first["cluster"].startswith("local cluster: 2 CPU worker(s)")
    job_ids = {j["job_id"] for j in first["jobs"]}
    # 4 runs, one per job, and 4 executed notebooks under runs/<sweep>/<job_id>.ipynb.
    runs = runs_by_job(sqlite_url)
    assert set(runs) == job_ids and all(len(r) == 1 for r in runs.values())
    notebooks = sorted((_isolated_store / "runs" / "four").glob("*.ipynb"))
    assert [p.stem for p in notebooks] == sorted(job_ids)
    assert all(nbformat.read(p, as_version=4).cells for p in notebooks)
    assert all(j["run_ids"] == runs[j["job_id"]] for j in first["jobs"])

    second = cli_json("sweep", "run", str(config), "--db", sqlite_url)
    assert (second["submitted"], second["skipped_done"], second["cluster"]) == (0, 4, None)
    assert runs_by_job(sqlite_url) == runs
    assert all(j["attempts"] == 1 for j in second["jobs"])

    status = cli_json("sweep", "status", str(config), "--db", sqlite_url)
    assert (status["total"], status["done"], status["pending"]) == (4, 4, 0)


def test_failing_job_is_recorded_and_others_finish(tmp_path: Path, sqlite_url: str) -> None:
    config = write_sweep(
        tmp_path,
        "mixed",
        """
        max_attempts: 2
        cases:
          - {seed: 0}
          - {seed: 1, fail: true}
          - {seed: 2}
          - {seed: 3, die: true}
    """,
    )
    summary = cli_json("sweep", "run", str(config), "--workers", "2", "--db", sqlite_url, ok=(1,))
    by_seed = {j["parameters"]["seed"]: j for j in summary["jobs"]}
    assert [by_seed[s]["status"] for s in range(4)] == ["done", "failed", "done", "failed"]
    failed = by_seed[1]
    assert "RuntimeError: asked to fail (seed=1)" in failed["error"]
    assert Path(failed["output"]).is_file() and failed["run_ids"] == []
    assert failed["attempts"] == 1  # a notebook error is an answer, not a reason to retry
    assert set(runs_by_job(sqlite_url)) == {by_seed[0]["job_id"], by_seed[2]["job_id"]}
    # The job that kills its worker: detected, retried on a fresh worker, then given up on.
    killer = by_seed[3]
    assert "worker died" in killer["error"] and killer["attempts"] == 2
    assert any("never finished" in e for e in killer["events"])

    # A rerun leaves failed jobs alone unless asked (and starts no cluster for nothing) ...
    again = cli("sweep", "run", str(config), "--db", sqlite_url)
    assert again.returncode == 1 and "2 failed job(s) skipped" in again.stderr
    assert "to run on" not in again.stderr
    # ... and --retry-failed runs them again (the worker killer dropped from the file first).
    config.write_text(config.read_text().replace("  - {seed: 3, die: true}\n", ""))
    retried = cli_json(
        "sweep", "run", str(config), "--workers", "1", "--retry-failed", "--db", sqlite_url, ok=(1,)
    )
    assert retried["submitted"] == 1 and retried["done"] == 2
    job = next(j for j in retried["jobs"] if j["job_id"] == failed["job_id"])
    assert job["status"] == "failed" and job["attempts"] == 2


def test_cluster_needs_a_shared_database(tmp_path: Path, sqlite_url: str) -> None:
    config = write_sweep(tmp_path, "c", "grid: {seed: [0]}\n")
    proc = cli(
        "sweep",
        "run",
        str(config),
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--db",
        sqlite_url,
        timeout=60,
    )
    assert proc.returncode == 2 and "needs a shared database" in proc.stderr
