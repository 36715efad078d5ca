"""`workbench batch run`, `workbench sweep run|status`, `workbench report`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli import add_common, print_json


def _param_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        dest="parameters",
        help="a notebook parameter; VALUE is read as JSON, else taken as a string (repeatable)",
    )


def _batch_run(args: argparse.Namespace) -> int:
    from workbench.batch import run_notebook
    from workbench.batch.notebook import parse_pairs

    row = run_notebook(
        args.notebook,
        parse_pairs(args.parameters),
        db=args.db,
        kernel=args.kernel,
        timeout=args.timeout,
    )
    if args.json:
        print_json(row)
    elif row.get("skipped"):
        print(f"job {row['job_id']}: not started, {row['skipped']}")
    else:
        print(f"job {row['job_id']}: {row['status']} in {row['seconds']} s")
        print(f"executed notebook: {row['output']}")
        if row["run_ids"]:
            print(f"runs: {', '.join(row['run_ids'])}")
        if row["error"]:
            print(row["error"], file=sys.stderr)
    # The command did its work even when the notebook failed: the row says so (exit 0
    # would hide it from scripts, so a failed job is exit 1, like a failed test).
    return 0 if row["status"] == "done" else 1


def _print_summary(summary: dict[str, Any]) -> None:
    interrupted = summary.get("interrupted", 0)
    print(
        f"sweep {summary['sweep']} on {summary['store']}: {summary['total']} jobs — "
        f"done {summary['done']}, failed {summary['failed']}, running {summary['running']}, "
        + (f"interrupted {interrupted}, " if interrupted else "")
        + f"pending {summary['pending']}"
    )
    for job in summary["jobs"]:
        if job["status"] == "failed":
            first = (job.get("error") or "").strip().splitlines()[:1]
            print(f"  failed {job['job_id']}: {first[0] if first else ''} ({job['output']})")
        elif job["status"] == "interrupted":
            print(f"  interrupted {job['job_id']}: {job['note']}")


def _sweep_run(args: argparse.Namespace) -> int:
    from workbench.batch import run_sweep

    summary = run_sweep(
        args.config,
        db=args.db,
        scheduler=args.scheduler,
        workers=args.workers,
        retry_failed=args.retry_failed,
    )
    if args.json:
        print_json(summary)
    else:
        _print_summary(summary)
    return 0 if summary["failed"] == 0 else 1


def _sweep_status(args: argparse.Namespace) -> int:
    from workbench.batch import sweep_status

    status = sweep_status(args.config, db=args.db)
    if args.json:
        print_json(status)
    else:
        _print_summary(status)
        for job in status["jobs"]:
            print(
                f"  {job['job_id']}  {job['status']:<11} attempts {job['attempts']}  "
                f"{job['parameters']}"
            )
    return 0


def _report(args: argparse.Namespace) -> int:
    from workbench.batch.notebook import parse_pairs
    from workbench.batch.report import make_report

    info = make_report(
        db=args.db,
        notebook=args.notebook,
        parameters=parse_pairs(args.parameters),
        out_dir=args.out,
        timeout=args.timeout,
    )
    if args.json:
        print_json(info)
    else:
        print(f"report: {info['html']}")
        print(f"executed notebook: {info['notebook']}")
    return 0


def register(subparsers: Any) -> None:
    """Add `batch`, `sweep` and `report` to the CLI."""
    batch = subparsers.add_parser("batch", help="run a parameterized notebook as a batch job")
    batch_sub = batch.add_subparsers(dest="batch_command", metavar="ACTION", required=True)
    run = batch_sub.add_parser("run", help="execute a notebook through papermill, recorded")
    run.add_argument("notebook", help="path to the notebook (with a 'parameters' cell)")
    _param_flag(run)
    run.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    run.add_argument("--timeout", type=float, default=None, help="seconds per cell")
    add_common(run)
    run.set_defaults(func=_batch_run)

    sweep = subparsers.add_parser("sweep", help="run a grid of notebook jobs on Dask")
    sweep_sub = sweep.add_subparsers(dest="sweep_command", metavar="ACTION", required=True)
    srun = sweep_sub.add_parser("run", help="run the jobs of a sweep not done yet")
    srun.add_argument("config", help="sweep file (YAML), e.g. configs/cpu/smoke.yaml")
    srun.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        default=None,
        help="an existing Dask scheduler (default: a local cluster)",
    )
    srun.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local worker processes (default: one per GPU, else per CPU)",
    )
    srun.add_argument("--retry-failed", action="store_true", help="rerun failed jobs too")
    add_common(srun)
    srun.set_defaults(func=_sweep_run)
    sstat = sweep_sub.add_parser("status", help="where a sweep stands (starts nothing)")
    sstat.add_argument("config", help="sweep file (YAML)")
    add_common(sstat)
    sstat.set_defaults(func=_sweep_status)

    report = subparsers.add_parser("report", help="regenerate the paper tables as HTML")
    report.add_argument(
        "--notebook",
        default=None,
        help="report notebook (default: notebooks/07_paper_tables.ipynb)",
    )
    _param_flag(report)
    report.add_argument("--out", default=None, help="folder (default: <store>/reports)")
    report.add_argument("--timeout", type=float, default=None, help="seconds per cell")
    add_common(report)
    report.set_defaults(func=_report)
