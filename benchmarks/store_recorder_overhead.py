"""The recorder's overhead on a real training run's iterations per second (goal: < 2%).

The same run spec is trained with and without `Recorder(store)` (file SQLite, WAL; and
PostgreSQL when reachable), interleaved: each repeat runs every variant, in an order that
rotates between repeats. Two figures per variant:

- training iterations/s: iterations ÷ the engine's `train_seconds` (evaluation excluded)
  — what the background writer thread costs the training loop;
- end-to-end iterations/s: iterations ÷ the wall time of the whole `train()` call,
  including the synchronous first write and the final flush.

Overhead = 1 − (with recorder ÷ without), paired within each repeat; median and spread.
On a shared machine that A/B figure is noisy, so the recorder's own cost is reported too:
its callback time plus its writer thread's CPU time, as a fraction of the run's wall time.

    .venv/bin/python benchmarks/store_recorder_overhead.py --repeats 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from workbench.store import Recorder, engine, open_store  # noqa: E402
from workbench.train import train  # noqa: E402

TEST_DB_URL = os.environ.get("TEST_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def spec_for(budget: int, eval_every: int) -> dict[str, Any]:
    """MNIST-1D / cnn1d with momentum, evaluated every `eval_every` iterations."""
    return {
        "dataset": "mnist1d",
        "model": "cnn1d",
        "optimizer": {"name": "momentum", "momentum": 0.9, "weight_decay": 5e-4},
        "policy": {"function": "COS", "k0": 0.001, "k1": 0.05, "l": budget},
        "batch_size": 64,
        "budget": budget,
        "eval_every": eval_every,
        "seed": 0,
        "threads": 1,
        "device": "cpu",
    }


def one(spec: dict[str, Any], store: Any) -> tuple[float, float, int, float]:
    """(training it/s, end-to-end it/s, points recorded, recorder cost ÷ wall) of one run.

    The recorder's cost is its own accounting: seconds spent in its callbacks on the
    training thread plus CPU seconds of its writer thread (an upper bound on what it
    takes from training, since the writer may run on the other core).
    """
    recorder = Recorder(store) if store is not None else None
    t0 = time.perf_counter()
    result = train(spec, callbacks=[recorder] if recorder else [], progress=False)
    wall = time.perf_counter() - t0
    n, cost = 0, 0.0
    if recorder is not None:
        n = store.run(result.run_id, points=False)["n_points"]
        assert n == len(result.history), (n, len(result.history))
        st = recorder.stats
        cost = (st["callback_seconds"] + st["writer_cpu_seconds"]) / wall
    return result.iterations / result.train_seconds, result.iterations / wall, n, cost


def pg_url() -> tuple[str | None, Any]:
    """A fresh PostgreSQL database (URL, drop function), or (None, None)."""
    try:
        admin = create_engine(TEST_DB_URL, isolation_level="AUTOCOMMIT")
        name = f"wb_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}): SQLite only")
        return None, None
    url = make_url(TEST_DB_URL).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        engine.forget_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url, drop


def fmt(values: list[float], pct: bool = False) -> str:
    """Median (min–max)."""
    if pct:
        return (
            f"{100 * statistics.median(values):+.2f}% "
            f"({100 * min(values):+.2f}% – {100 * max(values):+.2f}%)"
        )
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp())
    spec = spec_for(args.budget, args.eval_every)
    variants: dict[str, Any] = {"without recorder": None}
    variants["Recorder, SQLite file"] = open_store(f"sqlite:///{tempfile.mkdtemp()}/r.sqlite")
    url, drop = pg_url()
    if url:
        variants["Recorder, PostgreSQL"] = open_store(url)
    names = list(variants)
    one(spec, variants[names[-1]])  # warm-up: dataset generation, imports, caches
    train_rate: dict[str, list[float]] = {n: [] for n in names}
    wall_rate: dict[str, list[float]] = {n: [] for n in names}
    cost: dict[str, list[float]] = {n: [] for n in names}
    points = 0
    for rep in range(args.repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            tr, wr, n, c = one(spec, variants[name])
            train_rate[name].append(tr)
            wall_rate[name].append(wr)
            cost[name].append(c)
            points = max(points, n)
        print(f"repeat {rep + 1}/{args.repeats} done", flush=True)
    base = names[0]
    lines = [
        "| variant | training it/s | overhead (training) | end-to-end it/s | "
        "overhead (end-to-end) | recorder's own cost |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        if name == base:
            lines.append(
                f"| {name} | {fmt(train_rate[name])} | – | {fmt(wall_rate[name])} | – | – |"
            )
            continue
        over_t = [1 - w / b for w, b in zip(train_rate[name], train_rate[base], strict=True)]
        over_w = [1 - w / b for w, b in zip(wall_rate[name], wall_rate[base], strict=True)]
        own = fmt(cost[name], True).replace("+", "")
        lines.append(
            f"| {name} | {fmt(train_rate[name])} | {fmt(over_t, True)} | "
            f"{fmt(wall_rate[name])} | {fmt(over_w, True)} | {own} |"
        )
    print(
        f"budget {args.budget}, eval_every {args.eval_every}: {points} points per run, "
        f"{args.repeats} repeats"
    )
    print("\n".join(lines))
    if drop is not None:
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
