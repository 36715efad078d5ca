"""Batch execution costs: papermill per-job overhead, and sweep throughput on 1 vs 2 workers.

    .venv/bin/python benchmarks/batch_overhead.py [--repeats 3] [--jobs 6] [--budget 200]

1. Per job: the same small training run (synthetic data, MLP) three ways, interleaved and
   repeated: `train()` called in a warm process; `train()` in a fresh Python process (what
   a script pays: interpreter + imports); and a papermill job (`execute_job`: kernel start,
   imports, execution, writing the executed notebook and the job row).
2. Sweeps: the same N-job sweep over `notebooks/04_train_run.ipynb` on a local Dask cluster
   with 1 and with 2 workers, alternating; jobs per minute over the whole command (cluster
   start included) and over the jobs' own span (first start to last end).

Medians and spreads (min–max) are printed as a Markdown table for benchmarks/README.md.
The machine is shared: read the spread before the median.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRAIN_NOTEBOOK = ROOT / "notebooks" / "04_train_run.ipynb"


def _spec(budget: int, seed: int) -> dict[str, Any]:
    return {
        "dataset": "synthetic",
        "model": "mlp",
        "optimizer": {"name": "sgd"},
        "policy": {"function": "FIX", "k0": 0.05},
        "batch_size": 32,
        "budget": budget,
        "eval_every": max(1, budget // 4),
        "seed": seed,
        "target": 0.5,
        "threads": 1,
    }


def direct_warm(url: str, budget: int, seed: int) -> float:
    """`train()` in this (already warm) process, recorded like a notebook would."""
    from workbench.store import Recorder, open_store
    from workbench.train import train

    t0 = time.perf_counter()
    train(_spec(budget, seed), callbacks=[Recorder(open_store(url))], progress=False)
    return time.perf_counter() - t0


def direct_fresh(url: str, budget: int, seed: int) -> float:
    """`train()` in a new interpreter: imports and start-up included."""
    code = textwrap.dedent(f"""
        from workbench.store import Recorder, open_store
        from workbench.train import train
        train({_spec(budget, seed)!r}, callbacks=[Recorder(open_store({url!r}))],
              progress=False)
    """)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - t0


def papermill_job(url: str, budget: int, seed: int, root: Path) -> float:
    """The same run as a papermill job of the training notebook."""
    from workbench.batch.jobs import execute_job, make_payload

    params = {k: v for k, v in _spec(budget, seed).items() if k != "threads"}
    payload = make_payload(TRAIN_NOTEBOOK, params, db_url=url, sweep="bench-overhead", root=root)
    t0 = time.perf_counter()
    row = execute_job(payload)
    elapsed = time.perf_counter() - t0
    if row["status"] != "done":
        raise RuntimeError(row["error"])
    return elapsed


def sweep_once(url: str, workers: int, jobs: int, budget: int, tag: str, folder: Path) -> dict:
    """One fresh sweep of `jobs` jobs on `workers` local workers; timings from the rows."""
    from workbench.batch import run_sweep

    config = folder / f"{tag}.yaml"
    config.write_text(
        textwrap.dedent(f"""
        name: {tag}
        notebook: {TRAIN_NOTEBOOK}
        parameters:
          dataset: mnist1d
          model: cnn1d
          optimizer: {{name: momentum, momentum: 0.9}}
          policy: {{function: FIX, k0: 0.05}}
          batch_size: 64
          budget: {budget}
          eval_every: {max(1, budget // 5)}
        grid:
          seed: {list(range(jobs))}
        """)
    )
    t0 = time.perf_counter()
    summary = run_sweep(config, db=url, workers=workers, log=lambda _s: None)
    wall = time.perf_counter() - t0
    assert summary["done"] == jobs, summary
    starts = [j["started_at"] for j in summary["jobs"]]
    ends = [j["finished_at"] for j in summary["jobs"]]
    span = max(ends) - min(starts)
    return {
        "wall": wall,
        "span": span,
        "per_job": statistics.median(j["seconds"] for j in summary["jobs"]),
    }


def _fmt(values: list[float], unit: str = "s") -> str:
    return f"{statistics.median(values):.2f} {unit} ({min(values):.2f}–{max(values):.2f})"


def main() -> None:
    """Run both measurements and print the Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--sweep-budget", type=int, default=300)
    parser.add_argument("--skip-sweeps", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.sqlite'}"
        direct_warm(url, 20, 99)  # warm the imports and the dataset cache once
        times: dict[str, list[float]] = {"warm": [], "fresh": [], "papermill": []}
        for r in range(args.repeats):  # interleaved, so load drifts hit every variant
            times["warm"].append(direct_warm(url, args.budget, r))
            times["fresh"].append(direct_fresh(url, args.budget, 100 + r))
            times["papermill"].append(papermill_job(url, args.budget, 200 + r, folder))
            print(
                f"repeat {r}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()),
                file=sys.stderr,
            )
        overhead = [p - w for p, w in zip(times["papermill"], times["warm"], strict=True)]
        overhead_fresh = [p - f for p, f in zip(times["papermill"], times["fresh"], strict=True)]
        print(
            f"\nPer job (synthetic/mlp, {args.budget} iterations; {args.repeats} repeats, "
            "median (min–max)):\n"
        )
        print("| way | seconds per job |\n|---|---|")
        print(f"| `train()` in a warm process | {_fmt(times['warm'])} |")
        print(f"| `train()` in a fresh interpreter | {_fmt(times['fresh'])} |")
        print(f"| papermill job (`execute_job`) | {_fmt(times['papermill'])} |")
        print(f"| papermill overhead vs warm | {_fmt(overhead)} |")
        print(f"| papermill overhead vs fresh interpreter | {_fmt(overhead_fresh)} |")

        if args.skip_sweeps:
            return
        results: dict[int, list[dict]] = {1: [], 2: []}
        for r in range(args.repeats):
            for workers in (1, 2) if r % 2 == 0 else (2, 1):
                res = sweep_once(
                    url, workers, args.jobs, args.sweep_budget, f"bench-w{workers}-r{r}", folder
                )
                results[workers].append(res)
                print(
                    f"sweep {workers} worker(s) repeat {r}: wall {res['wall']:.1f}s "
                    f"span {res['span']:.1f}s",
                    file=sys.stderr,
                )
        print(
            f"\nSweep of {args.jobs} jobs (MNIST-1D/cnn1d, {args.sweep_budget} iterations "
            f"each; {args.repeats} repeats, median (min–max)):\n"
        )
        print(
            "| workers | wall incl. cluster start | jobs/min (wall) | jobs/min (jobs' span) "
            "| seconds per job |\n|---|---|---|---|---|"
        )
        for workers, res in results.items():
            wall = [x["wall"] for x in res]
            rate = [60 * args.jobs / x["wall"] for x in res]
            rate_span = [60 * args.jobs / x["span"] for x in res]
            per_job = [x["per_job"] for x in res]
            print(
                f"| {workers} | {_fmt(wall)} | {_fmt(rate, '')} | {_fmt(rate_span, '')} "
                f"| {_fmt(per_job)} |"
            )


if __name__ == "__main__":
    main()
