"""Recommendation from the results store: what met the target on this task before, what
must never be recommended there, and warm starts from the nearest tasks.

Probes of earlier searches never count (DESIGN.md "Search probes"); range tests neither.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.jsonio import finite_or_none
from workbench.policies import from_spec
from workbench.recommend.candidates import Candidate

BAD_STATUSES = frozenset({"diverged"})
BAD_VERDICTS = frozenset({"fails", "rejected", "diverged"})
NOT_HISTORY = frozenset({"probe", "range_test"})
# A stored policy is recommended without a search only if it met the target in every run
# by this fraction of the budget (median); slower ones warm-start the search instead.
FAST = 0.5


@dataclass
class HistoryPick:
    """A policy ranked from the store, with the evidence behind it."""

    policy_hash: str
    policy: dict[str, Any]
    runs: int
    met: int
    median_iterations: float | None
    spread: float
    robustness_gap: float | None
    budget: int
    task_label: str
    target: float | None

    @property
    def fast(self) -> bool:
        """Reached the target within FAST of the budget (median): a search could hardly
        beat it by the margin the recommender aims for, so it is recommended as it is."""
        return self.median_iterations is not None and self.median_iterations <= FAST * self.budget

    @property
    def reliable(self) -> bool:
        """Met the target in every run on record."""
        return self.runs > 0 and self.met == self.runs

    def explanation(self) -> str:
        """E.g. "met 92% at 0.4 of the budget in 5 of 5 runs on mnist1d/cnn1d/momentum"."""
        if self.target is None or self.median_iterations is None:
            return f"best final accuracy in {self.runs} runs on {self.task_label}"
        frac = self.median_iterations / self.budget
        return (
            f"met {self.target:.1%} at {frac:.2g} of the budget (median iteration "
            f"{self.median_iterations:.0f}) in {self.met} of {self.runs} runs on "
            f"{self.task_label}"
        )


@dataclass
class HistoryReport:
    """What the store says about a task: picks, banned policies, warm starts, notes."""

    picks: list[HistoryPick] = field(default_factory=list)
    banned: set[str] = field(default_factory=set)
    warm: list[Candidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs_seen: int = 0

    @property
    def best(self) -> HistoryPick | None:
        """The best pick that met the target in all its runs soon enough (see FAST)."""
        return next((p for p in self.picks if p.reliable and p.fast), None)


def task_label(task: Mapping[str, Any]) -> str:
    """dataset/model/optimizer, batch size: how tasks are named in explanations."""
    opt = task.get("optimizer")
    name = opt.get("name") if isinstance(opt, Mapping) else opt
    return f"{task.get('dataset')}/{task.get('model')}/{name} (batch {task.get('batch_size')})"


def _records(df: Any) -> list[dict[str, Any]]:
    return [] if df is None or len(df) == 0 else df.to_dict("records")


def banned_hashes(rows: list[dict[str, Any]]) -> set[str]:
    """Policies whose runs diverged, or whose verification ended fails/rejected, here."""
    return {
        r["policy_hash"]
        for r in rows
        if r.get("status") in BAD_STATUSES or r.get("verdict") in BAD_VERDICTS
    }


def _time_to_target(store: Any, run_ids: list[str], target: float, budget: int) -> dict[str, int]:
    if not run_ids:
        return {}
    cv = store.curves(run_ids, ["val_top1"])
    out: dict[str, int] = {}
    for rid, g in cv.groupby("run_id"):
        hit = g[(g["val_top1"].astype(float) >= target) & (g["iteration"] <= budget)]
        if len(hit):
            out[str(rid)] = int(hit["iteration"].min())
    return out


def rank(
    store: Any,
    task: Mapping[str, Any],
    target: float | None,
    budget: int,
    rows: list[dict[str, Any]],
    banned: set[str],
) -> list[HistoryPick]:
    """Policies of `rows` (one task) ranked: share of runs meeting the target, median
    iterations to it, spread over seeds, robustness gap."""
    usable = [
        r
        for r in rows
        if r.get("status") in ("completed", "stopped")
        and r["policy_hash"] not in banned
        and r.get("policy")
    ]
    reached = (
        _time_to_target(store, [r["run_id"] for r in usable], target, budget)
        if target is not None
        else {}
    )
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in usable:
        groups.setdefault(r["policy_hash"], []).append(r)
    picks = []
    for h, g in groups.items():
        its = [reached[r["run_id"]] for r in g if r["run_id"] in reached]
        gaps = [x for x in (finite_or_none(r.get("robustness_gap")) for r in g) if x is not None]
        finals = [x for x in (finite_or_none(r.get("final_top1")) for r in g) if x is not None]
        picks.append(
            HistoryPick(
                policy_hash=h,
                policy=g[0]["policy"],
                runs=len(g),
                met=len(its),
                median_iterations=statistics.median(its) if its else None,
                spread=statistics.pstdev(its) if len(its) > 1 else 0.0,
                robustness_gap=statistics.fmean(gaps) if gaps else None,
                budget=budget,
                task_label=task_label(task),
                target=target,
            )
        )
        picks[-1].spread = picks[-1].spread if its else -statistics.fmean(finals or [0.0])
    picks.sort(
        key=lambda p: (
            -p.met / p.runs,
            p.median_iterations or math.inf,
            p.spread,
            p.robustness_gap if p.robustness_gap is not None else math.inf,
        )
    )
    return picks


def _opt_name(task: Mapping[str, Any]) -> str:
    opt = task.get("optimizer")
    return str(opt.get("name") if isinstance(opt, Mapping) else opt)


def nearest_rows(store: Any, task: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Runs of the nearest tasks: same optimizer (LRs transfer only then) and the same model
    or dataset, closest first; with a label for the explanation."""
    name = _opt_name(task)
    for probe in (
        {"model": task["model"], "dataset": task["dataset"]},
        {"model": task["model"]},
        {"dataset": task["dataset"]},
    ):
        df = store.runs(task=probe, include_probes=False)
        rows = [
            r
            for r in _records(df)
            if r.get("optimizer") == name and r.get("kind") not in NOT_HISTORY
        ]
        if rows:
            first = rows[0]
            label = task_label(
                {
                    "dataset": first.get("dataset"),
                    "model": first.get("model"),
                    "optimizer": name,
                    "batch_size": first.get("batch_size"),
                }
            )
            return rows, label
    return [], ""


def stage_candidate(spec: Any, budget: int, stage_len: int) -> Candidate:
    """The first stage of a stored policy, stretched from its span to a search stage."""
    from workbench.policies import family_of

    first = from_spec(spec).stages[0]
    single = first.policy.retarget(max(1, first.until or budget), stage_len)
    name = single.functions[0]
    return Candidate(f"history:{name}", family_of(name), single.to_spec(), "history")


def _warm_candidates(
    store: Any,
    rows: list[dict[str, Any]],
    banned: set[str],
    budget: int,
    stage_len: int,
    limit: int = 2,
) -> list[Candidate]:
    """The first stage of the best-finishing policies of `rows`, stretched to a stage."""
    good = [
        r
        for r in rows
        if r.get("status") in ("completed", "stopped")
        and r["policy_hash"] not in banned
        and finite_or_none(r.get("final_top1")) is not None
    ]
    good.sort(key=lambda r: -float(r["final_top1"]))
    out: list[Candidate] = []
    seen: set[str] = set()
    for r in good:
        if r["policy_hash"] in seen:
            continue
        seen.add(r["policy_hash"])
        spec = r.get("policy")
        if spec is None:
            spec = store.run(r["run_id"], points=False).get("policy")
        if spec is None:
            continue
        out.append(stage_candidate(spec, int(r.get("budget") or budget), stage_len))
        if len(out) >= limit:
            break
    return out


def canonical_task(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The task as the training engine records it (optimizer defaults filled in), so that
    a spec naming only some settings finds the runs of the same task."""
    from workbench.train import RunSpec, task_of

    return task_of(RunSpec.parse(dict(spec)))


def consult(store: Any, spec: Mapping[str, Any], stage_len: int) -> HistoryReport:
    """Everything the store knows that bears on recommending for `spec`'s task."""
    task = canonical_task(spec)
    target, budget = spec.get("target"), int(spec["budget"])
    report = HistoryReport()
    rows = [r for r in _records(store.history_for_task(task)) if r.get("kind") not in NOT_HISTORY]
    report.runs_seen = len(rows)
    report.banned = banned_hashes(rows)
    if rows:
        report.picks = rank(store, task, target, budget, rows, report.banned)
        if report.best is None:
            report.warm = [
                stage_candidate(p.policy, budget, stage_len) for p in report.picks if p.reliable
            ][:2]
            report.warm += _warm_candidates(store, rows, report.banned, budget, stage_len)
            report.notes.append(
                f"{len(rows)} earlier runs on {task_label(task)}, none meeting the target in "
                f"every run within {FAST:.0%} of the budget; their best policies warm-start "
                "the search"
            )
        return report
    near, label = nearest_rows(store, task)
    if near:
        report.banned |= banned_hashes(near)
        report.warm = _warm_candidates(store, near, report.banned, budget, stage_len)
        report.notes.append(
            f"no history for {task_label(task)}; warm start from {len(near)} runs of the "
            f"nearest task {label}"
        )
    else:
        report.notes.append(f"no history for {task_label(task)} or any near task")
    return report
