"""Inserting evaluation points into the results store, in batches, on SQLite and PostgreSQL.

Each repeat records one run of 100,000 evaluation points (every contract metric, a few
non-finite) through `Store.add_points` — one transaction per batch, as the recorder does —
for every (backend, batch size), in an order that alternates between repeats. Figures
are rows/s: median and spread (min–max) over the repeats.

    .venv/bin/python benchmarks/store_insert.py --repeats 5
    (PostgreSQL: TEST_DB_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres;
     a fresh database is created and dropped.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.store.fakes import make_point, make_spec  # noqa: E402
from workbench.store import engine, open_store  # noqa: E402

TEST_DB_URL = os.environ.get("TEST_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def points(n: int) -> list[dict]:
    """n contract-shaped points; every 97th has a NaN loss and an infinite val loss."""
    out = []
    for i in range(n):
        extra = {"train_loss": float("nan"), "val_loss": float("inf")} if i % 97 == 96 else {}
        out.append(make_point(i, (i % 1000) / 1000, **extra))
    return out


def insert_all(store, pts: list[dict], batch: int) -> float:
    """Seconds to record one run of `pts` in batches of `batch`."""
    run_id = store.begin_run(make_spec(budget=len(pts)))
    t0 = time.perf_counter()
    for i in range(0, len(pts), batch):
        store.add_points(run_id, pts[i : i + batch], heartbeat_at=time.time())
    elapsed = time.perf_counter() - t0
    store.delete_runs([run_id])  # keep every repeat on a database of the same size
    return elapsed


def pg_database() -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL database URL and a function that drops it."""
    admin = create_engine(TEST_DB_URL, isolation_level="AUTOCOMMIT")
    name = f"wb_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(TEST_DB_URL).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        engine.forget_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--batches", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pts = points(args.points)
    tmp = tempfile.mkdtemp()
    backends = {"SQLite (file, WAL)": f"sqlite:///{tmp}/bench.sqlite"}
    drop = None
    try:
        url, drop = pg_database()
        backends["PostgreSQL 15"] = url
    except Exception as exc:
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}): SQLite only")
    stores = {name: open_store(url) for name, url in backends.items()}
    variants = [(b, n) for b in stores for n in args.batches]
    rates: dict[tuple[str, int], list[float]] = {v: [] for v in variants}
    for _ in range(1):  # warm-up: caches, statement compilation, table growth
        for b, n in variants:
            insert_all(stores[b], pts[:5000], n)
    for rep in range(args.repeats):
        order = variants if rep % 2 == 0 else variants[::-1]
        for b, n in order:
            rates[(b, n)].append(len(pts) / insert_all(stores[b], pts, n))
        print(f"repeat {rep + 1}/{args.repeats} done", flush=True)
    lines = [
        "| backend | batch (points per transaction) | rows/s median | spread (min–max) |",
        "|---|---|---|---|",
    ]
    for b, n in variants:
        r = rates[(b, n)]
        lines.append(f"| {b} | {n:,} | {statistics.median(r):,.0f} | {min(r):,.0f}–{max(r):,.0f} |")
    table = "\n".join(lines)
    print(table)
    if drop is not None:
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
