"""Reads of the store, mostly as pandas DataFrames (called through `Store` methods)."""

from __future__ import annotations

import math
import os
import re
import socket
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import or_, select
from sqlmodel import Session

from workbench.errors import BadInput
from workbench.store import numbers
from workbench.store.keys import TASK_FIELDS, settings_match, task_dict, task_id, task_pattern
from workbench.store.models import (
    POINT_METRICS,
    RUN_METRICS,
    DecisionRow,
    EvalPointRow,
    JobRow,
    LedgerRow,
    PolicyRow,
    RunRow,
    SearchRow,
    TaskRow,
    VerdictRow,
)

if TYPE_CHECKING:
    from workbench.store.store import Store

# A `running` run reads as interrupted once its heartbeat is older than this many
# evaluation intervals (DESIGN.md "Heartbeats"), but never sooner than MIN_STALE_S; with no
# interval known yet (fewer than two points) the wait is UNKNOWN_STALE_S.
STALE_INTERVALS = 5
MIN_STALE_S = 120.0
UNKNOWN_STALE_S = 1800.0

RUN_COLUMNS = [
    "run_id",
    "kind",
    "status",
    "stop_reason",
    "task_id",
    "dataset",
    "model",
    "optimizer",
    "batch_size",
    "policy_hash",
    "policy_text",
    "policy_label",
    "budget",
    "target",
    "seed",
    "iterations",
    "final_top1",
    "best_top1",
    "final_test_top1",
    "best_test_top1",
    "iterations_to_target",
    "seconds_to_target",
    "robustness_gap",
    "train_seconds",
    "eval_seconds",
    "wall_seconds",
    "started_at",
    "ended_at",
    "heartbeat_at",
    "n_points",
    "job_id",
    "search_id",
]
_HEX = re.compile(r"^[0-9a-f]+$")


# --- filters ---------------------------------------------------------------------------------


def task_ids(session: Session, task: Any) -> list[str] | None:
    """The ids of the stored tasks that `task` names, in one query (None: any task).

    `task`: a task id (that task), or a task dict, run spec or partial dict. A stored task
    matches when the dataset, model, optimizer name and batch size given are its own and
    every optimizer setting given is among its settings with an equal value, so a spec
    naming only some settings finds the runs the training engine recorded with the
    defaults filled in, and a complete task dict finds its own task.
    """
    if task is None:
        return None
    if isinstance(task, str):
        return [task]
    if not isinstance(task, Mapping):
        raise BadInput(f"task must be a task id or a dict, got {type(task).__name__}")
    pattern = task_pattern(task)
    if not pattern:
        return None
    q = select(TaskRow.id, TaskRow.optimizer_settings).order_by(TaskRow.id)
    for name in ("dataset", "model", "optimizer", "batch_size"):
        if name in pattern:
            q = q.where(getattr(TaskRow, name) == pattern[name])
    given = pattern.get("optimizer_settings") or {}
    return [tid for tid, stored in session.execute(q).all() if settings_match(given, stored)]


def policy_clause(policy: Any) -> Any:
    """A WHERE clause on PolicyRow for a hash, hash prefix, label, spec dict or Policy."""
    if policy is None:
        return None
    if isinstance(policy, str):
        ref = policy.strip()
        if _HEX.match(ref.lower()) and len(ref) >= 4:
            return or_(PolicyRow.hash.startswith(ref.lower()), PolicyRow.label == ref)
        return PolicyRow.label == ref
    if isinstance(policy, Sequence) and not isinstance(policy, Mapping):
        return or_(*[policy_clause(p) for p in policy])
    from workbench.policies import from_spec

    h = policy.hash if hasattr(policy, "hash") else from_spec(policy).hash
    return PolicyRow.hash == h


def _as_list(x: str | Sequence[str] | None) -> list[str] | None:
    if x is None:
        return None
    return [x] if isinstance(x, str) else list(x)


# --- staleness -------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child not yet waited for is a zombie: gone for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def stale_reason(row: Mapping[str, Any], now: float, older_than: float | None = None) -> str | None:
    """Why a `running` run is really interrupted ("process_gone" | "stale_heartbeat"), or None."""
    if row["status"] != "running":
        return None
    pid = int(row.get("pid") or 0)
    same_host = row.get("hostname") == socket.gethostname()
    if same_host and pid and pid != os.getpid() and not _pid_alive(pid):
        return "process_gone"
    beat = row.get("heartbeat_at") or row.get("started_at") or 0.0
    every = row.get("heartbeat_every")
    if older_than is not None:
        limit = older_than
    elif every:
        limit = max(STALE_INTERVALS * every, MIN_STALE_S)
    else:
        limit = UNKNOWN_STALE_S
    return "stale_heartbeat" if now - beat > limit else None


def stale_runs(
    store: Store, *, now: float | None = None, older_than: float | None = None
) -> list[tuple[str, str, float | None]]:
    """(run_id, reason, last heartbeat) of every `running` run that is really interrupted."""
    now = time.time() if now is None else now
    cols = [
        RunRow.run_id,
        RunRow.status,
        RunRow.hostname,
        RunRow.pid,
        RunRow.heartbeat_at,
        RunRow.heartbeat_every,
        RunRow.started_at,
    ]
    with store.session() as s:
        rows = s.execute(select(*cols).where(RunRow.status == "running")).mappings().all()
    out = []
    for r in rows:
        reason = stale_reason(r, now, older_than)
        if reason:
            out.append((r["run_id"], reason, r["heartbeat_at"]))
    return out


# --- runs ------------------------------------------------------------------------------------


def _run_select(*extra: Any) -> Any:
    return (
        select(
            RunRow,
            TaskRow.dataset,
            TaskRow.model,
            TaskRow.optimizer,
            TaskRow.batch_size,
            TaskRow.optimizer_settings,
            PolicyRow.text.label("policy_text"),
            PolicyRow.label.label("policy_label"),
            *extra,
        )
        .join(TaskRow, TaskRow.id == RunRow.task_id)
        .join(PolicyRow, PolicyRow.hash == RunRow.policy_hash)
    )


def _run_record(run: RunRow, m: Mapping[str, Any], now: float) -> dict[str, Any]:
    raw = run.model_dump()
    rec = {k: raw.get(k, m.get(k)) for k in RUN_COLUMNS}
    rec.update(numbers.join_from(raw, RUN_METRICS))
    for k in ("dataset", "model", "optimizer", "batch_size", "policy_text", "policy_label"):
        rec[k] = m[k]
    reason = stale_reason(raw, now)
    if reason:
        rec["status"], rec["stop_reason"] = "interrupted", reason
    return rec


def _empty_runs() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="float64" if c in RUN_METRICS else object) for c in RUN_COLUMNS}
    )


def run_records(
    store: Store,
    *,
    task: Any = None,
    policy: Any = None,
    status: Any = None,
    kind: Any = None,
    include_probes: bool = True,
    search_id: str | None = None,
    job_id: str | None = None,
    limit: int | None = None,
    now: float | None = None,
    extra: Sequence[Any] = (),
) -> list[dict[str, Any]]:
    """The rows of `Store.runs` as dicts (None for missing values, floats as stored)."""
    now = time.time() if now is None else now
    q = _run_select(*extra)
    clause = policy_clause(policy)
    if clause is not None:
        q = q.where(clause)
    statuses = _as_list(status)
    if statuses is not None:
        # A stale `running` run reads `interrupted`: fetch running ones too, filter below.
        wanted = set(statuses) | ({"running"} if "interrupted" in statuses else set())
        q = q.where(RunRow.status.in_(sorted(wanted)))
    kinds = _as_list(kind)
    if kinds is not None:
        q = q.where(RunRow.kind.in_(kinds))
    if not include_probes:
        q = q.where(RunRow.kind != "probe")
    if search_id is not None:
        q = q.where(RunRow.search_id == search_id)
    if job_id is not None:
        q = q.where(RunRow.job_id == job_id)
    q = q.order_by(RunRow.started_at.desc(), RunRow.run_id)
    with store.session() as s:
        ids = task_ids(s, task)
        if ids is not None:
            q = q.where(RunRow.task_id.in_(ids))
        records = []
        for m in s.execute(q).mappings():
            rec = _run_record(m["RunRow"], m, now)
            for col in extra:
                rec[col.name] = m[col.name]
            records.append(rec)
    if statuses is not None:
        records = [r for r in records if r["status"] in statuses]
    return records[: int(limit)] if limit is not None else records


def runs(store: Store, **kwargs: Any) -> pd.DataFrame:
    """See `Store.runs` (float metrics as float64: missing values read NaN there)."""
    records = run_records(store, **kwargs)
    if not records:
        return _empty_runs()
    df = pd.DataFrame.from_records(records)
    for name in RUN_METRICS:
        df[name] = df[name].astype("float64")
    return df


def resolve_run_id(store: Store, ref: str) -> str:
    """The full id of a run from its id or a unique prefix (≥ 4 characters)."""
    from workbench.store.store import RunNotFound

    ref = str(ref).strip()
    with store.session() as s:
        if s.get(RunRow, ref) is not None:
            return ref
        found: list[str] = []
        if len(ref) >= 4:
            found = list(
                s.execute(
                    select(RunRow.run_id).where(RunRow.run_id.startswith(ref)).limit(2)
                ).scalars()
            )
    if len(found) == 1:
        return found[0]
    what = "more than one run starts with" if found else "no run"
    raise RunNotFound(f"{what} {ref!r} in {store}. What to do: `workbench runs list`")


def _point_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    p: dict[str, Any] = {"iteration": row["iteration"]}
    p.update(numbers.join_from(row, POINT_METRICS))
    if row.get("extra"):
        for k, v in row["extra"].items():
            p.setdefault(k, v)
    return p


def run_points(store: Store, run_id: str) -> list[dict[str, Any]]:
    """A run's evaluation points, in iteration order, as contract-shaped dicts."""
    with store.session() as s:
        rows = (
            s.execute(
                select(EvalPointRow.__table__)
                .where(EvalPointRow.run_id == run_id)
                .order_by(EvalPointRow.iteration)
            )
            .mappings()
            .all()
        )
    return [_point_dict(r) for r in rows]


def run(store: Store, ref: str, *, points: bool = True) -> dict[str, Any]:
    """See `Store.run`."""
    run_id = resolve_run_id(store, ref)
    now = time.time()
    with store.session() as s:
        m = (
            s.execute(
                _run_select(PolicyRow.spec.label("policy_spec")).where(RunRow.run_id == run_id)
            )
            .mappings()
            .one()
        )
        r: RunRow = m["RunRow"]
        out = _run_record(r, m, now)
        out.update(
            spec=r.spec,
            provenance=r.provenance,
            tags=r.tags,
            error=r.error,
            policy=m["policy_spec"],
            eval_every=r.eval_every,
            record_key=r.record_key,
            hostname=r.hostname,
            pid=r.pid,
            heartbeat_every=r.heartbeat_every,
            spec_schema=r.spec_schema,
            epochs=numbers.join(r.epochs, r.epochs_kind),
            task=task_dict(
                {
                    "dataset": m["dataset"],
                    "model": m["model"],
                    "optimizer": m["optimizer"],
                    "batch_size": m["batch_size"],
                    "optimizer_settings": m["optimizer_settings"],
                }
            ),
        )
        vrows = (
            s.execute(select(VerdictRow).where(VerdictRow.run_id == run_id).order_by(VerdictRow.id))
            .scalars()
            .all()
        )
        drows = (
            s.execute(
                select(DecisionRow)
                .where(DecisionRow.verdict_id.in_([v.id for v in vrows]))
                .order_by(DecisionRow.verdict_id, DecisionRow.seq)
            )
            .scalars()
            .all()
        )
        out["verdicts"] = [
            {**_verdict_dict(v), "decisions": [d.payload for d in drows if d.verdict_id == v.id]}
            for v in vrows
        ]
    if points:
        out["history"] = run_points(store, run_id)
    return out


def _verdict_dict(v: VerdictRow) -> dict[str, Any]:
    d = dict(v.payload or {})
    d.update(
        id=v.id,
        run_id=v.run_id,
        verdict=v.verdict,
        iteration=v.iteration,
        rule=v.rule,
        compute_fraction=numbers.join(v.compute_fraction, v.compute_fraction_kind),
        predicted_final=numbers.join(v.predicted_final, v.predicted_final_kind),
        evidence=v.evidence,
        created_at=v.created_at,
    )
    return d


def curves(
    store: Store, run_ids: Sequence[str], metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """See `Store.curves`."""
    names = list(metrics) if metrics is not None else list(POINT_METRICS)
    bad = [m for m in names if m not in POINT_METRICS]
    if bad:
        raise BadInput(f"unknown metric(s) {bad}; known: {', '.join(POINT_METRICS)}")
    ids = [resolve_run_id(store, r) for r in ([run_ids] if isinstance(run_ids, str) else run_ids)]
    cols = [EvalPointRow.run_id, EvalPointRow.iteration]
    for n in names:
        cols += [getattr(EvalPointRow, n), getattr(EvalPointRow, f"{n}_kind")]
    with store.session() as s:
        rows = (
            s.execute(
                select(*cols)
                .where(EvalPointRow.run_id.in_(ids))
                .order_by(EvalPointRow.run_id, EvalPointRow.iteration)
            )
            .mappings()
            .all()
        )
    order = {r: i for i, r in enumerate(ids)}
    records = [
        {"run_id": r["run_id"], "iteration": r["iteration"], **numbers.join_from(r, names)}
        for r in rows
    ]
    records.sort(key=lambda d: (order[d["run_id"]], d["iteration"]))
    if not records:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ["run_id", "iteration", *names]})
    return pd.DataFrame.from_records(records, columns=["run_id", "iteration", *names])


# --- time to target, summaries, speedup --------------------------------------------------------


def time_to_target(pts: pd.DataFrame, target: float) -> tuple[int | None, float | None]:
    """(iterations, wall seconds) at the first point whose val_top1 ≥ target, else (None, None)."""
    hit = pts[pts["val_top1"].astype(float) >= target]
    if hit.empty:
        return None, None
    first = hit.iloc[0]
    secs = first.get("wall_seconds")
    return int(first["iteration"]), (None if secs is None or pd.isna(secs) else float(secs))


def _with_target(store: Store, df: pd.DataFrame, target: float | None) -> pd.DataFrame:
    """Add reached/its/secs columns: reaching `target` (or each run's own target)."""
    df = df.copy()
    if target is None:
        df["its"] = df["iterations_to_target"]
        df["secs"] = df["seconds_to_target"]
        df["reached"] = df["its"].notna()
        return df
    cv = curves(store, list(df["run_id"]), ["val_top1", "wall_seconds"]) if len(df) else None
    its, secs = [], []
    for rid in df["run_id"]:
        pts = cv[cv["run_id"] == rid] if cv is not None else None
        i, t = time_to_target(pts, target) if pts is not None and len(pts) else (None, None)
        its.append(i)
        secs.append(t)
    df["its"], df["secs"] = its, secs
    df["reached"] = [i is not None for i in its]
    return df


def _finite(values: Any) -> list[float]:
    out = []
    for v in values:
        if v is None:
            continue
        f = float(v)
        if math.isfinite(f):
            out.append(f)
    return out


def _median(values: Any) -> float | None:
    v = _finite(values)
    return float(statistics.median(v)) if v else None


def policy_summary(
    store: Store,
    task: Any,
    *,
    target: float | None = None,
    kind: Any = None,
    include_probes: bool = False,
) -> pd.DataFrame:
    """See `Store.policy_summary`."""
    df = runs(store, task=task, kind=kind, include_probes=include_probes)
    columns = [
        "policy_hash",
        "policy_text",
        "policy_label",
        "runs",
        "seeds",
        "met_target",
        "median_iterations_to_target",
        "median_seconds_to_target",
        "final_top1_mean",
        "final_top1_std",
        "final_test_top1_mean",
        "robustness_gap_mean",
        "diverged",
        "failed",
        "interrupted",
    ]
    if df.empty:
        return pd.DataFrame(columns=columns).set_index("policy_hash")
    df = _with_target(store, df[df["status"] != "running"], target)
    rows = []
    for h, g in df.groupby("policy_hash", sort=False):
        final = _finite(g["final_top1"])
        rows.append(
            {
                "policy_hash": h,
                "policy_text": g["policy_text"].iloc[0],
                "policy_label": g["policy_label"].iloc[0],
                "runs": len(g),
                "seeds": int(g["seed"].nunique()),
                "met_target": int(g["reached"].sum()),
                "median_iterations_to_target": _median(g.loc[g["reached"], "its"]),
                "median_seconds_to_target": _median(g.loc[g["reached"], "secs"]),
                "final_top1_mean": statistics.fmean(final) if final else None,
                "final_top1_std": statistics.stdev(final)
                if len(final) > 1
                else 0.0
                if final
                else None,
                "final_test_top1_mean": _mean(g["final_test_top1"]),
                "robustness_gap_mean": _mean(g["robustness_gap"]),
                "diverged": int((g["status"] == "diverged").sum()),
                "failed": int((g["status"] == "failed").sum()),
                "interrupted": int((g["status"] == "interrupted").sum()),
            }
        )
    out = pd.DataFrame.from_records(rows, columns=columns).set_index("policy_hash")
    return out.sort_values(
        ["met_target", "median_iterations_to_target"], ascending=[False, True], na_position="last"
    )


def _mean(values: Any) -> float | None:
    v = _finite(values)
    return statistics.fmean(v) if v else None


def _one_hash(store: Store, ref: str) -> str:
    return policy(store, ref)["hash"]


def speedup(
    store: Store,
    task: Any,
    policy_hash: str,
    baseline_hash: str,
    target: float | None = None,
    *,
    seeds: Sequence[int] | None = None,
    include_probes: bool = False,
) -> dict[str, Any]:
    """See `Store.speedup`."""
    ph, bh = _one_hash(store, policy_hash), _one_hash(store, baseline_hash)
    done = ["completed", "stopped", "diverged"]
    pol = runs(store, task=task, policy=ph, status=done, include_probes=include_probes)
    base = runs(store, task=task, policy=bh, status=done, include_probes=include_probes)
    if target is None:
        target = _median(base["final_top1"])
        if target is None:
            raise BadInput(f"no finished baseline runs of {bh[:16]} on this task to fix a target")
    pol, base = _with_target(store, pol, target), _with_target(store, base, target)
    common = sorted(set(pol["seed"].dropna()) & set(base["seed"].dropna()))
    if seeds is not None:
        common = [s for s in common if s in set(seeds)]
    per_seed = []
    for seed in common:
        p = _censored(pol[pol["seed"] == seed].iloc[0])
        b = _censored(base[base["seed"] == seed].iloc[0])
        per_seed.append(
            {
                "seed": int(seed),
                "policy_iterations": p[0],
                "policy_censored": p[1],
                "baseline_iterations": b[0],
                "baseline_censored": b[1],
                "speedup": b[0] / p[0] if p[0] else None,
                "policy_run_id": pol[pol["seed"] == seed].iloc[0]["run_id"],
                "baseline_run_id": base[base["seed"] == seed].iloc[0]["run_id"],
                "policy_seconds": p[2],
                "baseline_seconds": b[2],
            }
        )
    p_med = _median([r["policy_iterations"] for r in per_seed])
    b_med = _median([r["baseline_iterations"] for r in per_seed])
    ps = _median([r["policy_seconds"] for r in per_seed])
    bs = _median([r["baseline_seconds"] for r in per_seed])
    return {
        "task_id": _speedup_task_id(store, task),
        "policy_hash": ph,
        "baseline_hash": bh,
        "target": target,
        "seeds": [int(s) for s in common],
        "speedup": (b_med / p_med) if p_med and b_med is not None else None,
        "seconds_speedup": (bs / ps) if ps and bs is not None else None,
        "policy": {
            "median_iterations": p_med,
            "censored": sum(r["policy_censored"] for r in per_seed),
        },
        "baseline": {
            "median_iterations": b_med,
            "censored": sum(r["baseline_censored"] for r in per_seed),
        },
        "per_seed": per_seed,
    }


def _speedup_task_id(store: Store, task: Any) -> str | None:
    # The one stored task a dict names; else, as before, the id of a complete task dict.
    if isinstance(task, str):
        return task
    with store.session() as s:
        ids = task_ids(s, task)
    if ids is not None and len(ids) == 1:
        return ids[0]
    if isinstance(task, Mapping) and all(task.get(f) for f in TASK_FIELDS):
        return task_id(task)
    return None


def _censored(row: Any) -> tuple[int, bool, float | None]:
    # A run that never reached the target counts as censored at its budget.
    if row["reached"]:
        secs = row["secs"]
        return int(row["its"]), False, None if secs is None or pd.isna(secs) else float(secs)
    return int(row["budget"]), True, None


def history_for_task(
    store: Store, task: Any, *, include_probes: bool = False, with_policy: bool = True
) -> pd.DataFrame:
    """See `Store.history_for_task`."""
    extra = [PolicyRow.spec.label("policy")] if with_policy else []
    df = runs(store, task=task, include_probes=include_probes, extra=extra)
    if df.empty:
        if with_policy:
            df["policy"] = pd.Series(dtype=object)
        df["verdict"] = pd.Series(dtype=object)
        return df
    with store.session() as s:
        vs = s.execute(
            select(VerdictRow.run_id, VerdictRow.verdict)
            .where(VerdictRow.run_id.in_(list(df["run_id"])))
            .order_by(VerdictRow.id)
        ).all()
    latest = {rid: v for rid, v in vs}
    df["verdict"] = [latest.get(r) for r in df["run_id"]]
    return df


# --- policies, verdicts, searches, jobs ---------------------------------------------------------


def policies(store: Store) -> pd.DataFrame:
    """See `Store.policies`."""
    from sqlalchemy import func

    counts = (
        select(RunRow.policy_hash, func.count().label("runs"))
        .group_by(RunRow.policy_hash)
        .subquery()
    )
    q = (
        select(PolicyRow, counts.c.runs)
        .outerjoin(counts, counts.c.policy_hash == PolicyRow.hash)
        .order_by(PolicyRow.created_at)
    )
    with store.session() as s:
        rows = s.execute(q).all()
    cols = ["hash", "label", "text", "functions", "n_stages", "spec", "runs", "created_at"]
    records = [
        {
            "hash": p.hash,
            "label": p.label,
            "text": p.text,
            "functions": p.functions.strip(",").split(",") if p.functions else [],
            "n_stages": p.n_stages,
            "spec": p.spec,
            "runs": int(n or 0),
            "created_at": p.created_at,
        }
        for p, n in rows
    ]
    return pd.DataFrame.from_records(records, columns=cols)


def policy(store: Store, ref: Any) -> dict[str, Any]:
    """See `Store.policy`."""
    with store.session() as s:
        found = s.execute(select(PolicyRow).where(policy_clause(ref)).limit(2)).scalars().all()
    if len(found) != 1:
        what = "more than one policy matches" if found else "no policy"
        raise BadInput(f"{what} {ref!r} in {store} (give a longer hash, a label or a spec)")
    p = found[0]
    return {
        "hash": p.hash,
        "spec": p.spec,
        "label": p.label,
        "text": p.text,
        "functions": p.functions.strip(",").split(","),
        "n_stages": p.n_stages,
    }


def verdicts(store: Store, *, run_id: str | None = None, task: Any = None) -> pd.DataFrame:
    """See `Store.verdicts`."""
    q = (
        select(VerdictRow, RunRow.policy_hash, RunRow.task_id)
        .join(RunRow, RunRow.run_id == VerdictRow.run_id)
        .order_by(VerdictRow.id)
    )
    if run_id is not None:
        q = q.where(VerdictRow.run_id == resolve_run_id(store, run_id))
    with store.session() as s:
        ids = task_ids(s, task)
        if ids is not None:
            q = q.where(RunRow.task_id.in_(ids))
        rows = s.execute(q).all()
    cols = [
        "id",
        "run_id",
        "verdict",
        "iteration",
        "compute_fraction",
        "rule",
        "predicted_final",
        "policy_hash",
        "task_id",
        "created_at",
    ]
    records = []
    for v, ph, tid in rows:
        d = _verdict_dict(v)
        records.append({**{c: d.get(c) for c in cols}, "policy_hash": ph, "task_id": tid})
    return pd.DataFrame.from_records(records, columns=cols)


def search(store: Store, search_id: str) -> dict[str, Any]:
    """See `Store.search`."""
    with store.session() as s:
        row = s.get(SearchRow, search_id)
        if row is None:
            raise BadInput(f"no search {search_id!r} in {store}")
        d = row.model_dump()
        d["target"] = numbers.join(row.target, row.target_kind)
        d.pop("target_kind", None)
        d["policy"] = s.get(PolicyRow, row.policy_hash).spec if row.policy_hash else None
        task = s.get(TaskRow, row.task_id) if row.task_id else None
        d["task"] = task_dict(task.model_dump()) if task else None
        ledger = (
            s.execute(
                select(LedgerRow).where(LedgerRow.search_id == search_id).order_by(LedgerRow.seq)
            )
            .scalars()
            .all()
        )
        d["ledger"] = [dict(e.payload or {}) for e in ledger] or (d.get("payload") or {}).get(
            "ledger"
        )
        d["probe_run_ids"] = list(
            s.execute(
                select(RunRow.run_id)
                .where(RunRow.search_id == search_id)
                .order_by(RunRow.started_at)
            ).scalars()
        )
    return d


def searches(store: Store, task: Any = None) -> pd.DataFrame:
    """See `Store.searches`."""
    q = select(SearchRow).order_by(SearchRow.created_at)
    cols = [
        "search_id",
        "status",
        "task_id",
        "policy_hash",
        "budget",
        "target",
        "search_iterations",
        "search_seconds",
        "explanation",
        "created_at",
        "ended_at",
    ]
    with store.session() as s:
        ids = task_ids(s, task)
        if ids is not None:
            q = q.where(SearchRow.task_id.in_(ids))
        rows = s.execute(q).scalars().all()
    records = [
        {**{c: getattr(r, c) for c in cols}, "target": numbers.join(r.target, r.target_kind)}
        for r in rows
    ]
    return pd.DataFrame.from_records(records, columns=cols)


def _job_dict(j: JobRow) -> dict[str, Any]:
    d = j.model_dump()
    payload = d.pop("payload", None) or {}
    return {**payload, **d}


def job(store: Store, job_id: str) -> dict[str, Any] | None:
    """See `Store.job`."""
    with store.session() as s:
        j = s.get(JobRow, job_id)
        return _job_dict(j) if j is not None else None


def jobs(store: Store, sweep: str | None, status: str | None) -> list[dict[str, Any]]:
    """See `Store.jobs`."""
    q = select(JobRow).order_by(JobRow.created_at, JobRow.job_id)
    if sweep is not None:
        q = q.where(JobRow.sweep == sweep)
    if status is not None:
        q = q.where(JobRow.status == status)
    with store.session() as s:
        return [_job_dict(j) for j in s.execute(q).scalars().all()]
