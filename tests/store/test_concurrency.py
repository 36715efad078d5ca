"""Several processes writing at once, and a process killed mid-run."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from workbench.store import engine, open_store

WRITER = str(Path(__file__).with_name("writer_proc.py"))
N_PROCS, N_POINTS = 4, 500


@pytest.fixture(params=["file", "postgres"])
def shared_url(request, tmp_path) -> str:
    if request.param == "file":
        url = f"sqlite:///{tmp_path / 'shared.sqlite'}"  # not created yet: they race for it
    else:
        url = request.getfixturevalue("pg_databases")()
    yield url
    engine.forget_engine(url)


def test_four_processes_write_at_once_and_lose_nothing(shared_url: str, tmp_path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, WRITER, shared_url, str(i), str(N_POINTS), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N_PROCS)
    ]
    go.touch()
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err.lower() and "done" in out
    store = open_store(shared_url)
    runs = store.runs()
    assert len(runs) == N_PROCS and set(runs["status"]) == {"completed"}
    assert sorted(runs["seed"]) == list(range(N_PROCS))
    assert list(runs["n_points"]) == [N_POINTS] * N_PROCS
    with store.session() as s:
        total = s.execute(text("SELECT count(*) FROM eval_points")).scalar()
        nans = s.execute(
            text("SELECT count(*) FROM eval_points WHERE train_loss_kind = 1")
        ).scalar()
    assert total == N_PROCS * N_POINTS and nans == N_PROCS * N_POINTS // 50
    curve = store.curves([runs["run_id"][0]], ["val_top1"])
    assert list(curve["iteration"]) == [10 * i for i in range(N_POINTS)]


def test_a_killed_process_leaves_a_consistent_database(shared_url: str, tmp_path) -> None:
    go = tmp_path / "go"
    go.touch()
    proc = subprocess.Popen(
        [sys.executable, WRITER, shared_url, "9", "10000", str(go), "0.01"],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen = 0
    for line in proc.stdout:  # wait until it has written a good number of points
        if line.startswith("point"):
            seen = int(line.split()[1])
            if seen >= 20:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    store = open_store(shared_url)
    runs = store.runs()
    assert len(runs) == 1
    run = store.run(runs["run_id"][0])
    assert run["status"] == "interrupted" and run["stop_reason"] == "process_gone"
    history = run["history"]
    # Whole points only, in order, none missing below the last one written.
    assert len(history) >= seen + 1
    assert [p["iteration"] for p in history] == [10 * i for i in range(len(history))]
    assert all(p["val_top1"] == pytest.approx(i / 10000) for i, p in enumerate(history))
    assert all(math.isnan(p["train_loss"]) == (i % 50 == 49) for i, p in enumerate(history))
    assert run["n_points"] in (len(history), len(history) - 1)
    if shared_url.startswith("sqlite"):
        with store.session() as s:
            assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    assert store.reap() == [run["run_id"]]
    with store.session() as s:
        raw = s.execute(text("SELECT status FROM runs")).scalar()
    assert raw == "interrupted"
    assert store.reap() == []
