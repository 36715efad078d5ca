"""The results store: SQLModel tables on SQLite or PostgreSQL, a recorder, and queries.

    >>> from workbench.store import open_store, Recorder
    >>> store = open_store()                     # --db URL, WORKBENCH_DB_URL, or SQLite
    >>> # train(spec, callbacks=[Recorder(store)])
    >>> store.runs(task={"dataset": "mnist1d"})  # a pandas DataFrame

Public API (exact signatures in the docstrings of `Store`):

- `open_store(url=None, *, upgrade=False) -> Store`
- `Recorder(store=None, *, kind=None, job_id=None, search_id=None, tags=None)`: callback
- writes: `begin_run`, `add_points`, `finish_run`, `record_run(result) -> run_id`,
  `record_verdict(run_id, verdict) -> int`, `record_search(search) -> search_id`,
  `save_policy(spec, label=None) -> hash`, `save_task(task) -> id`,
  `upsert_sweep(name, spec=None, notebook=None)`, `upsert_job(job) -> job_id`,
  `set_status`, `delete_runs(run_ids) -> int`, `reap() -> [run_id]`,
  `import_runs(source) -> counts`, `gc()`
- reads: `runs(task, policy, status, …) -> DataFrame`, `run(run_id) -> dict`,
  `curves(run_ids) -> DataFrame`, `policy_summary(task, target=None) -> DataFrame`,
  `speedup(task, policy_hash, baseline_hash, target=None) -> dict`,
  `history_for_task(task) -> DataFrame` (probes left out), `verdicts(...)`,
  `search(search_id) -> dict`, `searches(task)`, `policies() -> DataFrame`, `policy(ref)`,
  `job(job_id) -> dict | None`, `jobs(sweep=None, status=None) -> list[dict]`,
  `export_runs(dest, run_ids=None) -> int`, `info() -> dict`
- helpers: `job_id_for(sweep, notebook, parameters) -> str`, `task_id(task) -> str`.

The store never imports `workbench.train`: results arrive through callbacks or dicts.
"""

from workbench.store.keys import job_id_for, task_id
from workbench.store.models import SCHEMA_VERSION
from workbench.store.recorder import Recorder
from workbench.store.store import RUN_STATUSES, RunNotFound, Store, open_store

__all__ = [
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "Recorder",
    "RunNotFound",
    "Store",
    "job_id_for",
    "open_store",
    "task_id",
]
