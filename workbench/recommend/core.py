"""`recommend(run_spec)`: history first, then range test → staged search → verification."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import BadInput
from workbench.policies import from_spec
from workbench.recommend.candidates import schedule_free_candidates
from workbench.recommend.defaults import (
    default_policy,
    optimizer_name,
    schedule_free_counterpart,
)
from workbench.recommend.history import HistoryReport, consult, task_label
from workbench.recommend.range_test import RangeTestResult, range_test
from workbench.recommend.search import (
    SearchConfig,
    StagedSearch,
    fixed_boundaries,
    resolve_stages,
)

Progress = Callable[[str], None]


@dataclass
class Recommendation:
    """A recommended policy with its explanation, evidence and cost."""

    policy: dict[str, Any]
    explanation: str
    search_iterations: int
    source: str  # "history" | "search"
    budget: int
    target: float | None
    meets_target: bool | None
    search_id: str
    lineage: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    trajectory: list[dict[str, Any]] = field(default_factory=list)
    verdict: dict[str, Any] | None = None
    range: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    # The optimizer to train the policy with: the request's, unless the request allowed
    # an optimizer change (`allow_optimizer_change`) and its Schedule-Free counterpart won.
    optimizer: dict[str, Any] = field(default_factory=dict)
    optimizer_changed: bool = False
    allow_optimizer_change: bool = False
    run_spec: dict[str, Any] = field(default_factory=dict)

    @property
    def plain_run_equivalents(self) -> float:
        """Search iterations ÷ the budget (one plain run)."""
        return self.search_iterations / self.budget

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: policy, explanation, search_iterations, lineage, ledger, verdict…"""
        verdict = None
        if self.verdict is not None:
            verdict = {k: v for k, v in self.verdict.items() if k != "run"}
            run = self.verdict.get("run") or {}
            verdict["run"] = {k: v for k, v in run.items() if k not in ("history", "spec")}
        return {
            "policy": self.policy, "policy_text": from_spec(self.policy).text,
            "policy_hash": from_spec(self.policy).hash, "explanation": self.explanation,
            "search_iterations": self.search_iterations,
            "plain_run_equivalents": self.plain_run_equivalents, "source": self.source,
            "budget": self.budget, "target": self.target, "meets_target": self.meets_target,
            "search_id": self.search_id, "stages": self.stages, "lineage": self.lineage,
            "ledger": self.ledger, "trajectory": self.trajectory, "verdict": verdict,
            "range": self.range, "notes": self.notes, "evidence": self.evidence,
            "seconds": self.seconds, "optimizer": self.optimizer,
            "optimizer_changed": self.optimizer_changed,
            "allow_optimizer_change": self.allow_optimizer_change, "run_spec": self.run_spec,
        }  # fmt: skip


def check_request(
    run_spec: Any, config: SearchConfig, allow_optimizer_change: bool = False
) -> dict[str, Any]:
    """Validate everything up front (task names, optimizer settings, target, budget vs
    stages, a Schedule-Free counterpart when an optimizer change is allowed) so that bad
    input fails before any training; the parsed spec as a dict."""
    from workbench.train import DATASETS, MODELS, OPTIMIZERS, RunSpec

    spec = RunSpec.parse(run_spec).to_dict()
    DATASETS.get(spec["dataset"])
    MODELS.get(spec["model"])
    OPTIMIZERS.get(optimizer_name(spec))
    _check_optimizer(spec)
    if allow_optimizer_change:
        counterpart = schedule_free_counterpart(spec["optimizer"])  # BadInput if none
        if counterpart is not None:
            _check_optimizer(dict(spec, optimizer=counterpart))
    config.check()
    if config.stages is not None:
        fixed_boundaries(int(spec["budget"]), config.stages, int(spec["eval_every"]))
    target = spec.get("target")
    if target is not None and not 0 < target <= 1:
        raise BadInput(f"target: must be a fraction in (0, 1] (got {target!r})")
    return spec


def _check_optimizer(spec: dict[str, Any]) -> None:
    """Build the optimizer on a dummy parameter: unknown or inconsistent settings raise."""
    import torch

    from workbench.train import build_optimizer

    try:
        build_optimizer(spec["optimizer"], [torch.nn.Parameter(torch.zeros(1))], 0.01)
    except BadInput:
        raise
    except (TypeError, ValueError) as exc:
        raise BadInput(f"optimizer: inconsistent settings {spec['optimizer']!r}: {exc}") from None


def search_bounds(spec: dict[str, Any], res: RangeTestResult) -> tuple[float, float]:
    """(low, high) for candidates: the range test's suggestion, else around the default
    policy's LR (÷3 … ×10), with the reason recorded in `res.extra["fallback"]`."""
    if res.suggestion is not None:
        return res.suggestion
    base = max(default_policy(spec, int(spec["budget"])).values(1))
    res.extra["fallback"] = f"no suggestion ({res.reason}); searching around the default LR"
    return base / 3, base * 10


def _range(
    spec: dict[str, Any], say: Progress, steps: int | None, given: RangeTestResult | None = None
) -> tuple[RangeTestResult, float, float]:
    """The range test and the (low, high) the search uses, with a fallback that says why."""
    if given is None:
        say("LR range test …")
    res = given if given is not None else range_test(spec, steps=steps)
    low, high = search_bounds(spec, res)
    if res.suggestion is not None:
        say(f"range test: suggested [{low:.3g}, {high:.3g}] ({res.iterations} iterations)")
    else:
        say(f"range test: {res.reason}; falling back to [{low:.3g}, {high:.3g}]")
    return res, low, high


def optimizer_change_text(spec: dict[str, Any], optimizer: dict[str, Any]) -> str:
    """What an explanation says when the recommendation changes the optimizer."""
    return (
        f"CHANGES THE OPTIMIZER from {optimizer_name(spec)} to its Schedule-Free counterpart "
        f"{optimizer!r} (allowed by the request): train with that optimizer, not "
        f"{optimizer_name(spec)}"
    )


def _explain_search(result: Any, spec: dict[str, Any], notes: list[str]) -> str:
    target, budget = spec.get("target"), int(spec["budget"])
    parts = " → ".join(f"{s['label']}@{s['start']}" for s in result.stages)
    changed = getattr(result, "optimizer_changed", False)
    task = task_label(dict(spec, optimizer=result.optimizer) if changed else spec)
    cost = result.search_iterations / budget
    if target is None:
        head = f"best final accuracy {result.best_top1:.1%} on {task}"
    elif result.reached_at is not None:
        head = (
            f"met {target:.1%} at {result.reached_at / budget:.2g} of the budget "
            f"(iteration {result.reached_at}) in 1 of 1 search runs on {task}"
        )
    else:
        head = (
            f"does NOT meet {target:.1%} within {budget} iterations on {task}: the best "
            f"policy found reached {result.best_top1:.1%}"
        )
    tail = f"; composed by a staged search ({parts}) costing {cost:.2f} plain runs"
    if changed:
        tail += "; " + optimizer_change_text(spec, result.optimizer)
    return head + tail + "".join(f"; {n}" for n in notes)


def _verify(
    spec: dict[str, Any],
    policy: dict[str, Any],
    store: Any,
    say: Progress,
    optimizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from workbench.verify import verify

    say("verifying the recommended policy with a fresh run from scratch …")
    vspec = dict(spec, policy=policy, kind="verify", run_id=None, job_id=None)
    if optimizer is not None:
        vspec["optimizer"] = optimizer
    verdict = verify(vspec, store=store)
    out = verdict.to_dict() if hasattr(verdict, "to_dict") else dict(verdict)
    say(f"verification: {out.get('verdict')} at iteration {out.get('iteration')}")
    return out


def recommend(
    run_spec: Any,
    store: Any = None,
    *,
    config: SearchConfig | None = None,
    use_history: bool = True,
    verify: bool = True,
    range_steps: int | None = None,
    range_result: RangeTestResult | None = None,
    progress: Progress | None = None,
    allow_optimizer_change: bool = False,
) -> Recommendation:
    """Recommend an LR policy for `run_spec`'s task, budget and target (its policy is
    ignored): from the store's history when a policy there met the target in every run
    within half the budget, else by a staged composition search (never proposing a policy
    that diverged or failed verification on the task) within the range test's bounds; then verified by
    a fresh run from scratch (`verify=False` skips that). `range_result` reuses a range
    test already run on this task (its iterations are still charged to the search).

    `allow_optimizer_change=True` (opt-in: the optimizer is part of the task) also offers
    the task optimizer's Schedule-Free counterpart (SGD family → schedulefree-sgd,
    Adam/AdamW → schedulefree-adamw) as stage-1 candidates with the range test's peak LR
    (and HOT× it), and lets history answer from that optimizer's runs; `Recommendation.optimizer` then
    names the optimizer to train with. BadInput when the optimizer has no counterpart."""
    config = config or SearchConfig()
    spec = check_request(run_spec, config, allow_optimizer_change)
    config = resolve_stages(spec, config)
    fixed_boundaries(int(spec["budget"]), config.stages or 1, int(spec["eval_every"]))
    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    budget = int(spec["budget"])
    search_id = uuid.uuid4().hex
    counterpart = schedule_free_counterpart(spec["optimizer"]) if allow_optimizer_change else None
    pre_notes = []
    if allow_optimizer_change and counterpart is None:
        pre_notes.append(
            f"optimizer change allowed, but {optimizer_name(spec)} is already Schedule-Free: "
            "nothing to add"
        )
    report = HistoryReport()
    optimizer, changed = dict(spec["optimizer"]), False
    if store is not None and use_history:
        stage_len = fixed_boundaries(budget, config.stages, int(spec["eval_every"]))[0]
        report = consult(store, spec, stage_len)
        if counterpart is not None:
            # History answers per task (the optimizer is part of it): the counterpart's
            # runs are consulted only because this request allowed the change.
            other = consult(store, dict(spec, optimizer=counterpart), stage_len)
            if other.best is not None and (
                report.best is None
                or (other.best.median_iterations or math.inf)
                < (report.best.median_iterations or math.inf)
            ):
                report.picks, optimizer, changed = other.picks, dict(counterpart), True
    report.notes[:0] = pre_notes
    best = report.best
    if best is not None:
        say(f"history: {best.explanation()}")
        explanation = best.explanation()
        if changed:
            explanation += "; " + optimizer_change_text(spec, optimizer)
        rec = Recommendation(
            policy=from_spec(best.policy).to_spec(), explanation=explanation,
            search_iterations=0, source="history", budget=budget, target=spec.get("target"),
            meets_target=True if spec.get("target") is not None else None, search_id=search_id,
            notes=report.notes,
            evidence={"runs": best.runs, "met": best.met,
                      "median_iterations_to_target": best.median_iterations,
                      "spread": best.spread, "banned": sorted(report.banned)},
            optimizer=optimizer, optimizer_changed=changed,
        )  # fmt: skip
    else:
        rec = _search(
            spec, store, config, report, search_id, say, range_steps, range_result, counterpart
        )
    rec.allow_optimizer_change = allow_optimizer_change
    rec.run_spec = dict(spec, policy=rec.policy, optimizer=rec.optimizer)
    if verify:
        rec.verdict = _verify(spec, rec.policy, store, say, rec.optimizer)
        if spec.get("target") is not None:
            rec.meets_target = rec.verdict.get("verdict") == "meets"
    rec.seconds = time.perf_counter() - t0
    if store is not None:
        _record(store, spec, rec)
    return rec


def _search(
    spec: dict[str, Any],
    store: Any,
    config: SearchConfig,
    report: HistoryReport,
    search_id: str,
    say: Progress,
    range_steps: int | None,
    range_result: RangeTestResult | None = None,
    counterpart: dict[str, Any] | None = None,
) -> Recommendation:
    for note in report.notes:
        say(note)
    rt, low, high = _range(spec, say, range_steps, range_result)
    spent = [
        {
            "stage": None,
            "item": "range_test",
            "run_id": None,
            "iterations": rt.iterations,
            "seconds": rt.extra.get("seconds", 0.0),
            "status": "completed",
        }
    ]
    warm = [c for c in report.warm if from_spec(c.spec).hash not in report.banned]
    extra = []
    if counterpart is not None:
        # The Schedule-Free baseline's recipe: its peak is the range test's high end, the
        # same `high` every other candidate is built from.
        stage_len = fixed_boundaries(int(spec["budget"]), config.stages, int(spec["eval_every"]))
        extra = schedule_free_candidates(high, int(spec["budget"]), spec["optimizer"], stage_len[0])
    search = StagedSearch(
        spec,
        low,
        high,
        config,
        store=store,
        warm=warm,
        search_id=search_id,
        progress=say,
        initial_spent=spent,
        banned=report.banned,
        extra=extra,
    )
    result = search.run()
    notes = list(report.notes)
    if rt.suggestion is None:
        notes.append(str(rt.extra.get("fallback")))
    if extra and not result.optimizer_changed:
        peaks = ", ".join(
            f"{max(from_spec(c.spec).values(int(spec['budget']))):.3g}" for c in extra
        )
        notes.append(
            f"the Schedule-Free counterpart ({extra[0].optimizer['name']}, peaks {peaks}) was "
            f"tried in stage 1 and not chosen; the policy is for {optimizer_name(spec)}"
        )
    evidence = {
        "best_val_top1": result.best_top1,
        "reached_at": result.reached_at,
        "stage_scores": [(s["label"], s["val_top1"]) for s in result.stages],
        "banned": sorted(report.banned),
    }
    return Recommendation(
        policy=result.policy, explanation=_explain_search(result, spec, notes),
        search_iterations=result.search_iterations, source="search", budget=result.budget,
        target=result.target, meets_target=result.meets_target, search_id=search_id,
        lineage=result.lineage, ledger=result.ledger, stages=result.stages,
        trajectory=result.trajectory,
        range={"low": low, "high": high, "suggested": rt.suggestion is not None,
               "reason": rt.reason, "lr_at_min": rt.lr_at_min, "diverged_at": rt.diverged_at,
               "iterations": rt.iterations, "curve": {"lrs": rt.lrs, "losses": rt.losses}},
        notes=notes, evidence=evidence, optimizer=dict(result.optimizer or spec["optimizer"]),
        optimizer_changed=result.optimizer_changed,
    )  # fmt: skip


def _record(store: Any, spec: dict[str, Any], rec: Recommendation) -> None:
    d = rec.to_dict()
    store.record_search({
        "search_id": rec.search_id, "spec": spec, "policy": rec.policy, "status": "done",
        "budget": rec.budget, "target": rec.target, "explanation": rec.explanation,
        "search_iterations": rec.search_iterations, "search_seconds": rec.seconds,
        "lineage": rec.lineage, "ledger": rec.ledger, "verdict": d["verdict"],
        "source": rec.source, "meets_target": rec.meets_target, "stages": rec.stages,
        "range": rec.range,  # with its loss-vs-LR curve: Table 7 of the report draws it
        # The task stays the request's; the optimizer the policy is for is recorded beside.
        "optimizer": rec.optimizer, "optimizer_changed": rec.optimizer_changed,
        "allow_optimizer_change": rec.allow_optimizer_change,
    })  # fmt: skip


def is_finite(x: Any) -> bool:
    """A finite float (for tables)."""
    return isinstance(x, int | float) and math.isfinite(x)


__all__ = ["Recommendation", "check_request", "recommend"]
