"""A separate process recording one fake run (used by the concurrency and kill tests).

    python writer_proc.py URL SEED N_POINTS GO_FILE [DELAY_S]

Waits for GO_FILE to exist (so several writers start together), then records a run of
N_POINTS evaluation points, one transaction per point, and prints "point i" as it goes.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.store.fakes import FakeRun, make_point, make_result, make_spec  # noqa: E402
from workbench.store import Recorder, open_store  # noqa: E402


def main() -> int:
    url, seed, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    store = open_store(url)
    rec = Recorder(store, max_batch=1)
    while not go.exists():
        time.sleep(0.01)
    run = FakeRun(spec=make_spec(seed=seed, budget=n * 10, eval_every=10, job_id=f"job{seed}"))
    rec.on_run_start(run)
    print(f"run {run.run_id} pid {os.getpid()}", flush=True)
    for i in range(n):
        point = make_point(i * 10, i / n, train_loss=float("nan") if i % 50 == 49 else 0.5)
        run.history.append(point)
        rec.on_eval(run, point)
        if delay:
            rec.flush()
            print(f"point {i}", flush=True)
            time.sleep(delay)
    rec.on_run_end(run, make_result(run))
    if rec.errors:
        print("errors:", rec.errors, file=sys.stderr)
        return 1
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
