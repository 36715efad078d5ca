"""Batch execution: papermill jobs, resumable sweeps on Dask distributed, and reports.

- `run_notebook(notebook, parameters, db=None)`: one job, run here (`workbench batch run`);
  returns its job row (status, executed notebook, linked run ids, error).
- `plan_sweep / run_sweep / sweep_status(config, db=None)`: sweeps from a YAML file
  (`workbench sweep run|status`); job id = hash of (sweep name, notebook, parameters).
- `make_report(db=None, notebook=None)`: the paper-tables notebook as HTML (`workbench report`).

A job's notebook gets `job_id` (and `sweep`) as parameters when it declares them, and the
store URL in `WORKBENCH_DB_URL` (never as a parameter: it would be written, password and
all, into the executed notebook), so batch notebooks call `open_store(db_url)` with
`db_url = None` and put `job_id` into their run spec: the store then records one run per
job however often the job is retried.
"""

from workbench.batch.config import SweepConfig, load_sweep
from workbench.batch.jobs import execute_job, job_id_for, make_payload
from workbench.batch.notebook import notebook_parameters, parse_value
from workbench.batch.report import make_report
from workbench.batch.run import run_notebook
from workbench.batch.sweep import plan_sweep, run_sweep, sweep_status

__all__ = [
    "SweepConfig",
    "execute_job",
    "job_id_for",
    "load_sweep",
    "make_payload",
    "make_report",
    "notebook_parameters",
    "parse_value",
    "plan_sweep",
    "run_notebook",
    "run_sweep",
    "sweep_status",
]
