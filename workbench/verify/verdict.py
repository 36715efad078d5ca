"""Verdicts, and the mapping from a run's status to a verdict (DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.verify.rules import Decision

VERDICTS = ("meets", "fails", "rejected", "diverged", "interrupted")


@dataclass
class Verdict:
    """Does the policy reach the target within the budget, and how much compute was used."""

    verdict: str
    iteration: int | None
    compute_fraction: float
    rule: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    predicted_final: float | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    shadow: bool = False
    target: float | None = None
    budget: int | None = None
    run_id: str | None = None
    run: dict[str, Any] | None = None

    def to_dict(self, *, with_run: bool = True) -> dict[str, Any]:
        """JSON-able form; `with_run=False` leaves out the run result."""
        out = {
            "verdict": self.verdict,
            "iteration": self.iteration,
            "compute_fraction": self.compute_fraction,
            "rule": self.rule,
            "evidence": self.evidence,
            "predicted_final": self.predicted_final,
            "decisions": self.decisions,
            "shadow": self.shadow,
            "target": self.target,
            "budget": self.budget,
            "run_id": self.run_id,
        }
        if with_run:
            out["run"] = self.run
        return out


def _best(history: list[dict[str, Any]], metric: str = "val_top1") -> float | None:
    vals = [p.get(metric) for p in history if isinstance(p.get(metric), int | float)]
    vals = [v for v in vals if v == v]
    return max(vals) if vals else None


def verdict_from_result(
    result: dict[str, Any],
    budget: int,
    target: float | None,
    decision: Decision | None = None,
    decisions: list[Decision] | None = None,
    shadow: bool = False,
) -> Verdict:
    """The verdict of a finished verification run (a `RunResult.to_dict()`)."""
    status, reason = result.get("status"), result.get("stop_reason")
    used = int(result.get("iterations") or 0)
    reached = result.get("iterations_to_target")
    log = [d.to_dict() for d in decisions or []]
    base = {
        "compute_fraction": used / budget if budget else 0.0,
        "decisions": log,
        "shadow": shadow,
        "target": target,
        "budget": budget,
        "run_id": result.get("run_id"),
        "run": result,
    }
    if reached is not None:
        # Verification stops at the first point at or above the target (shadow runs on).
        return Verdict("meets", int(reached), **base)
    if status == "diverged":
        ruled = decision is not None and decision.kind == "diverged"
        return Verdict(
            "diverged",
            used,
            rule=decision.rule if ruled else "divergence",
            evidence=decision.evidence if ruled else {"stop_reason": reason},
            **base,
        )
    if status == "stopped" and isinstance(reason, str) and reason.startswith("rule:"):
        name = reason.removeprefix("rule:")
        d = decision if decision is not None and decision.rule == name else None
        return Verdict(
            "rejected",
            used,
            rule=name,
            evidence={"reason": d.reason, **d.evidence} if d else {"stop_reason": reason},
            predicted_final=d.predicted_final if d else _best(result.get("history") or []),
            **base,
        )
    if status == "completed":
        return Verdict("fails", used, predicted_final=result.get("final_top1"), **base)
    # A user stop, an interruption or a crash: no verdict on the policy itself.
    evidence = {"status": status, "stop_reason": reason}
    if result.get("error"):
        evidence["error"] = result["error"]
    return Verdict("interrupted", used, evidence=evidence, **base)
