"""`open_store` and the `Store`: sessions and every write; reads live in `queries`.

One engine per process and URL (cached in `engine`); each operation opens a short
session that commits on success and rolls back on any error. SQLite writers begin with
`BEGIN IMMEDIATE` so concurrent local writers queue on the busy timeout instead of
failing with "database is locked".
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Float,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from workbench import paths
from workbench.errors import BadInput
from workbench.store import engine as eng
from workbench.store import migrate, numbers, queries
from workbench.store.keys import policy_row, record_key, task_fields, task_id
from workbench.store.models import (
    POINT_KEYS,
    POINT_METRICS,
    RUN_METRICS,
    DecisionRow,
    EvalPointRow,
    JobRow,
    LedgerRow,
    PolicyRow,
    RunRow,
    SearchRow,
    SweepRow,
    TaskRow,
    VerdictRow,
)

RUN_STATUSES = ("running", "completed", "stopped", "diverged", "failed", "interrupted")
JOB_STATUSES = ("pending", "running", "done", "failed")
REAP_REASONS = ("process_gone", "stale_heartbeat")  # stop reasons that `reap` writes
_memory_locks: dict[str, threading.RLock] = {}


class RunNotFound(BadInput, KeyError):
    """No run (or more than one) matches the id given."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def open_store(url: str | None = None, *, upgrade: bool = False) -> Store:
    """Open the results store: `url`, else `WORKBENCH_DB_URL`, else SQLite under the store root.

    An empty database gets the newest schema; an older one is refused unless `upgrade`
    (what `workbench db upgrade` does); a newer one is always refused. Bad URLs,
    unreachable servers and read-only files raise `BadInput` naming the URL.
    """
    resolved = eng.resolve_url(url)
    parsed = eng.parse_url(resolved)
    if eng.is_sqlite(parsed):
        eng.check_sqlite_writable(parsed)
    engine = eng.get_engine(resolved)
    if not getattr(engine, "workbench_checked", False):
        migrate.ensure(engine, resolved, upgrade=upgrade)
        engine.workbench_checked = True  # type: ignore[attr-defined]
    return Store(resolved, _engine=engine)


class Store:
    """The results store. Create it with `open_store(url)`; all methods are thread-safe."""

    def __init__(self, url: str, *, _engine: Any = None):
        self.url = url
        self.engine = _engine or eng.get_engine(url)
        self._write_engine = self.engine.execution_options(workbench_write=True)
        parsed = eng.parse_url(url)
        self.backend = self.engine.dialect.name
        # An in-memory SQLite database is one shared connection: serialise its sessions.
        self._lock = (
            _memory_locks.setdefault(url, threading.RLock())
            if eng.is_memory(parsed)
            else nullcontext()
        )

    def __repr__(self) -> str:
        return f"Store({eng.redact(self.url)!r})"

    # --- sessions ----------------------------------------------------------------------

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A short session: commits at the end, rolls back on any error.

        `write=True` takes the SQLite write lock up front (BEGIN IMMEDIATE).
        """
        bind = self._write_engine if write else self.engine
        with (
            self._lock,
            eng.db_errors(self.url, "write" if write else "read"),
            Session(bind, expire_on_commit=False) as session,
        ):
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        """Close the process's engine for this URL (the next `open_store` makes a new one)."""
        eng.forget_engine(self.url)

    def info(self) -> dict[str, Any]:
        """Backend, schema revision and state, and row counts."""
        return migrate.info(self.engine, self.url)

    # --- policies and tasks ------------------------------------------------------------

    def save_policy(self, spec: Any, label: str | None = None) -> str:
        """Store a policy (a spec dict or a Policy) under an optional label; returns its hash."""
        row = policy_row(spec, label)
        with self.session(write=True) as s:
            _ensure_policy(s, row, relabel=label is not None)
        return row["hash"]

    def policies(self) -> pd.DataFrame:
        """All policies: hash, label, text, functions, n_stages, spec, runs."""
        return queries.policies(self)

    def policy(self, ref: str) -> dict[str, Any]:
        """One policy by hash, hash prefix or label: hash, spec, label, text, functions."""
        return queries.policy(self, ref)

    def save_task(self, task: Mapping[str, Any]) -> str:
        """Store a task (task dict or run spec); returns its id."""
        with self.session(write=True) as s:
            return _ensure_task(s, task)

    # --- runs --------------------------------------------------------------------------

    def begin_run(
        self,
        spec: Mapping[str, Any],
        *,
        run_id: str | None = None,
        task: Mapping[str, Any] | None = None,
        policy: Any = None,
        provenance: Mapping[str, Any] | None = None,
        started_at: float | None = None,
        kind: str | None = None,
        job_id: str | None = None,
        search_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Write a run as `running` (replacing an earlier record of the same job); its id."""
        run_id = run_id or spec.get("run_id") or uuid.uuid4().hex
        now = time.time()
        row = _run_start_row(
            run_id,
            spec,
            provenance=provenance,
            started_at=started_at or now,
            kind=kind,
            job_id=job_id,
            search_id=search_id,
            tags=tags,
        )
        pol = policy_row(policy if policy is not None else spec.get("policy"))
        with self.session(write=True) as s:
            _ensure_policy(s, pol)
            row["task_id"] = _ensure_task(s, task or spec)
            row["policy_hash"] = pol["hash"]
            _replace_run(s, row)
        return run_id

    def add_points(
        self,
        run_id: str,
        points: Sequence[Mapping[str, Any]],
        *,
        heartbeat_at: float | None = None,
        heartbeat_every: float | None = None,
    ) -> None:
        """Upsert evaluation points of a run and beat its heartbeat, in one transaction."""
        with self.session(write=True) as s:
            conn = s.connection()
            _upsert_points(conn, run_id, points)
            conn.execute(
                _beat_stmt(),
                {
                    "b_rid": run_id,
                    "b_beat": heartbeat_at or time.time(),
                    "b_every": heartbeat_every,
                },
            )

    def finish_run(
        self,
        run_id: str,
        result: Mapping[str, Any],
        points: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Write a run's final status and summary (a `RunResult.to_dict()`), plus late points."""
        with self.session(write=True) as s:
            if points:
                _upsert_points(s.connection(), run_id, points)
            values = _result_values(result)
            values["n_points"] = _count_points(run_id)
            done = s.execute(update(RunRow).where(RunRow.run_id == run_id).values(**values))
            if done.rowcount == 0:
                raise RunNotFound(f"no run {run_id!r} to finish in {self}")

    def record_run(self, result: Mapping[str, Any], **kwargs: Any) -> str:
        """Record a whole run at once from a result dict (`RunResult.to_dict()`); its id.

        Keyword arguments are those of `begin_run` (kind, job_id, search_id, tags, …).
        """
        spec = dict(result.get("spec") or {})
        run_id = kwargs.pop("run_id", None) or result.get("run_id") or spec.get("run_id")
        kwargs.setdefault("provenance", result.get("provenance"))
        kwargs.setdefault("task", result.get("task") or spec)
        run_id = self.begin_run(spec, run_id=run_id, **kwargs)
        self.finish_run(run_id, result, points=result.get("history") or ())
        return run_id

    def set_status(self, run_id: str, status: str, stop_reason: str | None = None) -> None:
        """Set a run's status (one of RUN_STATUSES) and stop reason."""
        if status not in RUN_STATUSES:
            raise BadInput(f"status must be one of {', '.join(RUN_STATUSES)}, got {status!r}")
        values: dict[str, Any] = {"status": status, "stop_reason": stop_reason}
        if status != "running":
            values["ended_at"] = time.time()
        with self.session(write=True) as s:
            s.execute(update(RunRow).where(RunRow.run_id == run_id).values(**values))

    def delete_runs(self, run_ids: Iterable[str]) -> int:
        """Delete runs with their points and verdicts (and their checkpoint folders)."""
        ids = [self.resolve_run_id(r) for r in run_ids]
        if not ids:
            return 0
        with self.session(write=True) as s:
            # Explicit deletes: SQLite only cascades with foreign keys on, other tools may not.
            verdict_ids = select(VerdictRow.id).where(VerdictRow.run_id.in_(ids))
            s.execute(delete(DecisionRow).where(DecisionRow.verdict_id.in_(verdict_ids)))
            s.execute(delete(VerdictRow).where(VerdictRow.run_id.in_(ids)))
            s.execute(delete(EvalPointRow).where(EvalPointRow.run_id.in_(ids)))
            n = s.execute(delete(RunRow).where(RunRow.run_id.in_(ids))).rowcount
        for run_id in ids:
            _remove_checkpoints(run_id)
        return int(n)

    def resolve_run_id(self, ref: str) -> str:
        """The full run id for an id or a unique prefix of at least 4 characters."""
        return queries.resolve_run_id(self, ref)

    def reap(self, *, now: float | None = None, older_than: float | None = None) -> list[str]:
        """Mark stale `running` runs `interrupted`; returns their ids.

        Stale: the recording process is gone (same host), or the heartbeat is older than a
        few evaluation intervals (`older_than` seconds overrides the threshold).
        """
        stale = queries.stale_runs(self, now=now, older_than=older_than)
        if not stale:
            return []
        with self.session(write=True) as s:
            for run_id, reason, heartbeat in stale:
                s.execute(
                    update(RunRow)
                    .where(RunRow.run_id == run_id, RunRow.status == "running")
                    .values(status="interrupted", stop_reason=reason, ended_at=heartbeat)
                )
        return [r for r, _, _ in stale]

    # --- reads (see `queries`) -----------------------------------------------------------

    def runs(
        self,
        task: Any = None,
        policy: Any = None,
        status: str | Sequence[str] | None = None,
        *,
        kind: str | Sequence[str] | None = None,
        include_probes: bool = True,
        search_id: str | None = None,
        job_id: str | None = None,
        limit: int | None = None,
        now: float | None = None,
    ) -> pd.DataFrame:
        """Runs, newest first, one row each, filtered by task/policy/status/kind.

        `task`: a task id, or a task dict, run spec or partial dict: every stored task with
        the fields and optimizer settings given (settings not given may be anything, e.g. the
        defaults the trainer filled in). `policy`: a hash, hash prefix, label or spec.
        `status` filters the effective status (a stale `running` run reads `interrupted`).
        Columns: run_id, kind, status, stop_reason, task_id, dataset, model, optimizer,
        batch_size, policy_hash, policy_text, policy_label, budget, target, seed, iterations,
        final_top1, best_top1, final_test_top1, best_test_top1, iterations_to_target,
        seconds_to_target, robustness_gap, train_seconds, eval_seconds, wall_seconds,
        started_at, ended_at, heartbeat_at, n_points, job_id, search_id.
        """
        return queries.runs(
            self,
            task=task,
            policy=policy,
            status=status,
            kind=kind,
            include_probes=include_probes,
            search_id=search_id,
            job_id=job_id,
            limit=limit,
            now=now,
        )

    def run(self, run_id: str, *, points: bool = True) -> dict[str, Any]:
        """One run as a dict: the columns of `runs()` plus spec, task, policy (spec),
        provenance, tags, error, history (list of points, with `points`), verdicts."""
        return queries.run(self, run_id, points=points)

    def curves(self, run_ids: Sequence[str], metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Evaluation points of several runs (long form): run_id, iteration, metrics…."""
        return queries.curves(self, run_ids, metrics)

    def policy_summary(
        self,
        task: Any,
        *,
        target: float | None = None,
        kind: str | Sequence[str] | None = None,
        include_probes: bool = False,
    ) -> pd.DataFrame:
        """Per policy on a task: runs, seeds, met_target, median iterations/seconds to target,
        final top-1 mean ± std, test top-1 mean, robustness gap mean, diverged count.

        With `target`, reaching it is judged on the curves against that target; without,
        each run's own target is used. Indexed by policy_hash.
        """
        return queries.policy_summary(
            self, task, target=target, kind=kind, include_probes=include_probes
        )

    def speedup(
        self,
        task: Any,
        policy_hash: str,
        baseline_hash: str,
        target: float | None = None,
        *,
        seeds: Sequence[int] | None = None,
        include_probes: bool = False,
    ) -> dict[str, Any]:
        """Iterations-to-target of the baseline ÷ of the policy, same task/target/seeds.

        Target defaults to the median final validation top-1 of the baseline. Seeds that
        never reach it count as censored at their budget. Keys: speedup (ratio of medians),
        per_seed (list), seeds, target, policy/baseline (median iterations, censored),
        seconds_speedup.
        """
        return queries.speedup(
            self,
            task,
            policy_hash,
            baseline_hash,
            target,
            seeds=seeds,
            include_probes=include_probes,
        )

    def history_for_task(
        self, task: Any, *, include_probes: bool = False, with_policy: bool = True
    ) -> pd.DataFrame:
        """The task's runs (probes left out by default) with their policy specs, for
        recommendation: the columns of `runs()` plus `policy` (spec) and verdict."""
        return queries.history_for_task(
            self, task, include_probes=include_probes, with_policy=with_policy
        )

    # --- verdicts ----------------------------------------------------------------------

    def record_verdict(self, run_id: str, verdict: Mapping[str, Any]) -> int:
        """Store a verification verdict (`Verdict.to_dict()`) and its rule decisions; its id.

        The verdict's `run` (the run result) is not stored again: record the run itself
        with a `Recorder` or `record_run`. Raises `RunNotFound` for an unknown run.
        """
        run_id = self.resolve_run_id(run_id)
        row: dict[str, Any] = {
            "run_id": run_id,
            "verdict": str(verdict.get("verdict")),
            "iteration": _int_or_none(verdict.get("iteration")),
            "rule": _str_or_none(verdict.get("rule")),
            "shadow": bool(verdict.get("shadow", False)),
            "evidence": verdict.get("evidence"),
            "payload": {k: v for k, v in verdict.items() if k not in ("run", "decisions")},
            "created_at": time.time(),
        }
        numbers.split_into(row, verdict, ("compute_fraction", "predicted_final"))
        decisions = verdict.get("decisions") or []
        with self.session(write=True) as s:
            vid = s.execute(insert(VerdictRow).values(**row).returning(VerdictRow.id)).scalar()
            if decisions:
                s.execute(
                    insert(DecisionRow), [_decision_row(vid, i, d) for i, d in enumerate(decisions)]
                )
        return int(vid)

    def verdicts(self, run_id: str | None = None, task: Any = None) -> pd.DataFrame:
        """Verdicts (of a run, or of a task's runs): id, run_id, verdict, iteration,
        compute_fraction, rule, predicted_final, policy_hash, created_at."""
        return queries.verdicts(self, run_id=run_id, task=task)

    # --- searches ----------------------------------------------------------------------

    def record_search(self, search: Mapping[str, Any]) -> str:
        """Store (or update, same `search_id`) a search/recommendation; returns its id.

        Keys read: search_id, task (or spec), policy (chosen spec), status, budget, target,
        explanation, search_iterations, search_seconds, lineage, ledger (list of dicts:
        stage, item, run_id, iterations, seconds, …), verdict, keep_checkpoints. Anything
        else is kept in `payload`.
        """
        search_id = str(search.get("search_id") or uuid.uuid4().hex)
        spec = search.get("spec") or {}
        task = search.get("task") or (spec if spec.get("dataset") else None)
        row: dict[str, Any] = {
            "search_id": search_id,
            "status": str(search.get("status") or "done"),
            "budget": _int_or_none(search.get("budget", spec.get("budget"))),
            "search_iterations": _int_or_none(search.get("search_iterations")),
            "search_seconds": numbers.to_float(search.get("search_seconds")),
            "explanation": _str_or_none(search.get("explanation")),
            "keep_checkpoints": bool(search.get("keep_checkpoints", False)),
            "spec": spec or None,
            "lineage": search.get("lineage"),
            "verdict": search.get("verdict"),
            "payload": {k: v for k, v in search.items() if k not in _SEARCH_KEYS},
        }
        numbers.split_into(row, {"target": search.get("target", spec.get("target"))}, ("target",))
        if row["status"] != "running":
            row["ended_at"] = time.time()
        ledger = search.get("ledger")
        with self.session(write=True) as s:
            row["task_id"] = _ensure_task(s, task) if task else None
            if search.get("policy") is not None:
                pol = policy_row(search["policy"])
                _ensure_policy(s, pol)
                row["policy_hash"] = pol["hash"]
            old = s.get(SearchRow, search_id)
            if old is None:
                row["created_at"] = time.time()
                s.execute(insert(SearchRow).values(**row))
            else:
                s.execute(update(SearchRow).where(SearchRow.search_id == search_id).values(**row))
            if isinstance(ledger, list):
                s.execute(delete(LedgerRow).where(LedgerRow.search_id == search_id))
                if ledger:
                    s.execute(
                        insert(LedgerRow),
                        [_ledger_row(search_id, i, e) for i, e in enumerate(ledger)],
                    )
            elif ledger is not None:
                row_payload = dict(row["payload"] or {})
                row_payload["ledger"] = ledger
                s.execute(
                    update(SearchRow)
                    .where(SearchRow.search_id == search_id)
                    .values(payload=row_payload)
                )
        return search_id

    def search(self, search_id: str) -> dict[str, Any]:
        """One search: its columns, policy (spec), task, ledger (list), probe run ids."""
        return queries.search(self, search_id)

    def searches(self, task: Any = None) -> pd.DataFrame:
        """Searches (of a task): search_id, status, policy_hash, search_iterations, …."""
        return queries.searches(self, task)

    # --- sweeps and jobs ---------------------------------------------------------------

    def upsert_sweep(
        self, name: str, spec: Mapping[str, Any] | None = None, notebook: str | None = None
    ) -> str:
        """Create or update a sweep; returns its name."""
        with self.session(write=True) as s:
            _ensure_sweep(s, name, spec=spec, notebook=notebook)
        return name

    def upsert_job(self, job: Mapping[str, Any]) -> str:
        """Create or update a sweep job (keys: job_id, sweep, notebook, parameters, status,
        run_id, output, error, worker, attempts, …); returns job_id.

        Only the keys given (and not None) are changed on an existing job; other keys are
        merged into its `payload` and come back as keys of `job()`. Status must be one of
        pending | running | done | failed; moving to `running` counts an attempt.
        """
        job_id = job.get("job_id")
        if not job_id:
            raise BadInput("a job needs a job_id (see workbench.store.job_id_for)")
        status = job.get("status")
        if status is not None and status not in JOB_STATUSES:
            raise BadInput(f"job status must be one of {', '.join(JOB_STATUSES)}, got {status!r}")
        now = time.time()
        cols = {
            "sweep",
            "notebook",
            "parameters",
            "status",
            "run_id",
            "output",
            "error",
            "worker",
            "attempts",
            "started_at",
            "ended_at",
        }
        values = {k: job[k] for k in cols if k in job}
        for key in ("status", "attempts"):  # not nullable: None means "not given"
            if values.get(key, 0) is None:
                del values[key]
        extra = {k: v for k, v in job.items() if k not in cols and k != "job_id"}
        values["updated_at"] = now
        if status == "running" and values.get("started_at") is None:
            values["started_at"] = now
        if status in ("done", "failed") and values.get("ended_at") is None:
            values["ended_at"] = now
        with self.session(write=True) as s:
            if values.get("sweep"):
                _ensure_sweep(s, values["sweep"], notebook=values.get("notebook"), touch=False)
            new = {
                "job_id": job_id,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            _insert_new(s, JobRow, new)
            old = s.get(JobRow, job_id, with_for_update=True)  # workers may race for a job
            if status == "running" and "attempts" not in values and old.status != "running":
                values["attempts"] = (old.attempts or 0) + 1
            if extra:  # other keys travel in the payload, merged with what was there
                values["payload"] = {**(old.payload or {}), **extra}
            s.execute(update(JobRow).where(JobRow.job_id == job_id).values(**values))
        return str(job_id)

    def job(self, job_id: str) -> dict[str, Any] | None:
        """One job as a dict, or None when there is none."""
        return queries.job(self, job_id)

    def jobs(self, sweep: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Jobs (of a sweep, with a status) as a list of dicts, oldest first."""
        return queries.jobs(self, sweep, status)

    # --- export, import, housekeeping -----------------------------------------------------

    def export_runs(self, dest: Any, run_ids: Sequence[str] | None = None, **filters: Any) -> int:
        """Write runs as JSON lines to a path or text file (non-finite as strings); count."""
        from workbench.store.exchange import export_runs

        return export_runs(self, dest, run_ids, **filters)

    def import_runs(self, source: Any, *, replace: bool = False) -> dict[str, int]:
        """Read runs from JSON lines (path or text file): {"imported", "skipped"}."""
        from workbench.store.exchange import import_runs

        return import_runs(self, source, replace=replace)

    def gc(self, *, dry_run: bool = False) -> dict[str, Any]:
        """Reclaim disk: orphaned checkpoint folders, then VACUUM. Returns what was done."""
        from workbench.store.exchange import gc

        return gc(self, dry_run=dry_run)


# --- helpers (module level: used inside one session) ---------------------------------------

_SEARCH_KEYS = frozenset(
    {
        "search_id",
        "task",
        "spec",
        "policy",
        "status",
        "budget",
        "target",
        "explanation",
        "search_iterations",
        "search_seconds",
        "lineage",
        "ledger",
        "verdict",
        "keep_checkpoints",
    }
)


def _int_or_none(x: Any) -> int | None:
    return None if x is None else int(x)


def _str_or_none(x: Any) -> str | None:
    return None if x is None else str(x)


def _insert_new(s: Session, model: Any, row: dict[str, Any]) -> None:
    """INSERT unless the key exists: concurrent writers on PostgreSQL may race to add it."""
    conn = s.connection()
    ins = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[conn.dialect.name]
    conn.execute(ins(model.__table__).values(**row).on_conflict_do_nothing())


def _ensure_policy(s: Session, row: dict[str, Any], relabel: bool = False) -> None:
    _insert_new(s, PolicyRow, row)
    if relabel and row.get("label") is not None:
        s.execute(update(PolicyRow).where(PolicyRow.hash == row["hash"]).values(label=row["label"]))


def _ensure_task(s: Session, task: Mapping[str, Any]) -> str:
    tid = task_id(task)
    _insert_new(s, TaskRow, {"id": tid, "created_at": time.time(), **task_fields(task)})
    return tid


def _ensure_sweep(
    s: Session, name: str, *, spec: Any = None, notebook: str | None = None, touch: bool = True
) -> None:
    row = {"name": name, "spec": spec, "notebook": notebook, "created_at": time.time()}
    _insert_new(s, SweepRow, row)
    if touch and (spec is not None or notebook is not None):
        values = {k: v for k, v in (("spec", spec), ("notebook", notebook)) if v is not None}
        s.execute(update(SweepRow).where(SweepRow.name == name).values(**values))


def _run_start_row(
    run_id: str,
    spec: Mapping[str, Any],
    *,
    provenance: Mapping[str, Any] | None,
    started_at: float,
    kind: str | None,
    job_id: str | None,
    search_id: str | None,
    tags: Mapping[str, Any] | None,
) -> dict[str, Any]:
    job_id = job_id or spec.get("job_id")
    budget = spec.get("budget")
    if budget is None:
        raise BadInput("a run spec needs a budget")
    row: dict[str, Any] = {
        "run_id": str(run_id),
        "record_key": record_key(job_id, spec),
        "job_id": _str_or_none(job_id),
        "kind": str(kind or spec.get("kind") or "train"),
        "search_id": _str_or_none(search_id or spec.get("search_id")),
        "budget": int(budget),
        "seed": _int_or_none(spec.get("seed")),
        "eval_every": _int_or_none(spec.get("eval_every")),
        "spec_schema": _int_or_none(spec.get("schema")),
        "status": "running",
        "stop_reason": None,
        "started_at": started_at,
        "ended_at": None,
        "heartbeat_at": time.time(),
        "heartbeat_every": None,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "n_points": 0,
        "spec": dict(spec),
        "provenance": dict(provenance) if provenance else None,
        "tags": dict(tags) if tags else (spec.get("tags") or None),
        "created_at": time.time(),
    }
    numbers.split_into(row, {"target": spec.get("target")}, ("target",))
    for name in RUN_METRICS:
        if name != "target":
            row[name], row[f"{name}_kind"] = None, numbers.FINITE
    return row


def _replace_run(s: Session, row: dict[str, Any]) -> None:
    """Insert a run row; an earlier record of the same job (or same run id) is replaced."""
    old_ids = set()
    if row["record_key"]:
        old_ids |= set(
            s.execute(select(RunRow.run_id).where(RunRow.record_key == row["record_key"])).scalars()
        )
    if s.get(RunRow, row["run_id"]) is not None:
        old_ids.add(row["run_id"])
    if old_ids:
        ids = list(old_ids)
        verdict_ids = select(VerdictRow.id).where(VerdictRow.run_id.in_(ids))
        s.execute(delete(DecisionRow).where(DecisionRow.verdict_id.in_(verdict_ids)))
        s.execute(delete(VerdictRow).where(VerdictRow.run_id.in_(ids)))
        s.execute(delete(EvalPointRow).where(EvalPointRow.run_id.in_(ids)))
        s.execute(delete(RunRow).where(RunRow.run_id.in_(ids)))
    s.execute(insert(RunRow).values(**row))


def point_row(run_id: str, point: Mapping[str, Any]) -> dict[str, Any]:
    """Column values of one evaluation point (non-finite floats split into value + kind)."""
    if point.get("iteration") is None:
        raise BadInput(f"an evaluation point needs an iteration (keys: {sorted(point)})")
    row: dict[str, Any] = {"run_id": run_id, "iteration": int(point["iteration"])}
    numbers.split_into(row, point, POINT_METRICS)
    extra = {k: v for k, v in point.items() if k not in POINT_KEYS}
    row["extra"] = extra or None
    return row


def _upsert_points(conn: Any, run_id: str, points: Sequence[Mapping[str, Any]]) -> None:
    # Last write wins per (run, iteration): a re-sent or resumed point replaces the old one.
    rows = {}
    for p in points:
        r = point_row(run_id, p)
        rows[r["iteration"]] = r
    if not rows:
        return
    conn.execute(_upsert_stmt(conn.dialect.name), list(rows.values()))


@cache
def _upsert_stmt(dialect: str) -> Any:
    # Built once: constructing ON CONFLICT statements costs more than running them.
    table = EvalPointRow.__table__
    ins = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](table)
    keys = ("run_id", "iteration")
    stmt = ins.on_conflict_do_update(
        index_elements=list(keys),
        set_={c.name: ins.excluded[c.name] for c in table.columns if c.name not in keys},
    )
    return stmt


@cache
def _beat_stmt() -> Any:
    """Heartbeat, point count and revival of a run reaped by mistake, in one UPDATE."""
    runs, pts = RunRow.__table__, EvalPointRow.__table__
    rid = bindparam("b_rid")
    reaped = and_(runs.c.status == "interrupted", runs.c.stop_reason.in_(REAP_REASONS))
    return (
        update(runs)
        .where(runs.c.run_id == rid)
        .values(
            heartbeat_at=bindparam("b_beat"),
            heartbeat_every=func.coalesce(
                bindparam("b_every", type_=Float), runs.c.heartbeat_every
            ),
            n_points=select(func.count())
            .select_from(pts)
            .where(pts.c.run_id == rid)
            .scalar_subquery(),
            # A run reaped by mistake (just slow) comes back to life with its next point.
            status=case((reaped, "running"), else_=runs.c.status),
            stop_reason=case((reaped, None), else_=runs.c.stop_reason),
            ended_at=case((reaped, None), else_=runs.c.ended_at),
        )
    )


def _count_points(run_id: str) -> Any:
    return (
        select(func.count())
        .select_from(EvalPointRow)
        .where(EvalPointRow.run_id == run_id)
        .scalar_subquery()
    )


def _result_values(result: Mapping[str, Any]) -> dict[str, Any]:
    status = str(result.get("status") or "completed")
    if status not in RUN_STATUSES:
        raise BadInput(f"run status must be one of {', '.join(RUN_STATUSES)}, got {status!r}")
    values: dict[str, Any] = {
        "status": status,
        "stop_reason": _str_or_none(result.get("stop_reason")),
        "iterations": _int_or_none(result.get("iterations")),
        "iterations_to_target": _int_or_none(result.get("iterations_to_target")),
        "error": _str_or_none(result.get("error")),
        "heartbeat_at": time.time(),
    }
    if status != "running":
        values["ended_at"] = numbers.to_float(result.get("ended_at")) or time.time()
    names = [n for n in RUN_METRICS if n != "target" and n in result]
    numbers.split_into(values, result, names)
    if result.get("provenance"):
        values["provenance"] = dict(result["provenance"])
    return values


def _decision_row(verdict_id: int, seq: int, d: Any) -> dict[str, Any]:
    d = d if isinstance(d, Mapping) else getattr(d, "__dict__", {"value": repr(d)})
    action = d.get("action") or d.get("status") or ("stop" if d.get("stop") else None)
    return {
        "verdict_id": verdict_id,
        "seq": seq,
        "iteration": _int_or_none(d.get("iteration")),
        "rule": _str_or_none(d.get("rule")),
        "action": _str_or_none(action),
        "reason": _str_or_none(d.get("reason")),
        "payload": dict(d),
    }


def _ledger_row(search_id: str, seq: int, e: Any) -> dict[str, Any]:
    e = e if isinstance(e, Mapping) else {"value": e}
    return {
        "search_id": search_id,
        "seq": seq,
        "stage": _int_or_none(e.get("stage")),
        "item": _str_or_none(e.get("item") or e.get("what") or e.get("candidate")),
        "run_id": _str_or_none(e.get("run_id")),
        "iterations": _int_or_none(e.get("iterations")),
        "seconds": numbers.to_float(e.get("seconds")),
        "payload": dict(e),
    }


def _remove_checkpoints(name: str) -> None:
    folder = Path(paths.store_root()) / "checkpoints" / name
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["RUN_STATUSES", "RunNotFound", "Store", "open_store", "point_row"]
