"""The stop rules as a training callback (docs/contracts.md "Callbacks")."""

from __future__ import annotations

from typing import Any

from workbench.verify.monitor import Monitor
from workbench.verify.rules import DIVERGED


def chance_of(task: dict[str, Any]) -> float | None:
    """1/num_classes of the task's dataset from the training registry, if it is known."""
    try:
        from workbench.train import DATASETS

        n = DATASETS.get(task["dataset"]).num_classes
    except Exception:  # an unknown or user dataset: the rules fall back on the first point
        return None
    return 1.0 / n if n and n > 1 else None


class VerifierCallback:
    """Consults the rules at every evaluation; returns a StopRequest when one fires.

    In shadow mode the run is never stopped; `monitor.decisions` logs when and why each
    rule would have stopped it. The divergence rule stops with status `diverged`.
    """

    def __init__(
        self,
        rules: list[Any] | None = None,
        shadow: bool = False,
        store: Any = None,
        prior_curves: list[dict[str, Any]] | None = None,
    ):
        self.rules, self.shadow, self.store = rules, shadow, store
        self.prior_curves = prior_curves
        self.monitor: Monitor | None = None
        self.run_id: str | None = None

    def on_run_start(self, run: Any) -> None:
        """Start a fresh history for this run."""
        task = dict(getattr(run, "task", None) or {})
        self.run_id = getattr(run, "run_id", None)
        self.monitor = Monitor(
            run.policy,
            int(run.budget),
            getattr(run, "target", None),
            self.rules,
            shadow=self.shadow,
            task=task,
            store=self.store,
            chance=chance_of(task),
            eval_every=(getattr(run, "spec", None) or {}).get("eval_every"),
            prior_curves=self.prior_curves,
        )
        # A restored run arrives with its earlier points: the rules need them.
        for point in list(getattr(run, "history", None) or []):
            self.monitor.report_point(point)

    def on_eval(self, run: Any, point: dict[str, Any]) -> Any:
        """Report the point; a StopRequest when a rule fires (not in shadow mode)."""
        if self.monitor is None:
            self.on_run_start(run)
        assert self.monitor is not None
        hist = self.monitor.history
        if not hist or hist[-1].get("iteration") != point.get("iteration"):
            self.monitor.report_point(point)
        decision = self.monitor.ask()
        if decision is None:
            return None
        from workbench.train import StopRequest

        status = "diverged" if decision.kind == DIVERGED else "stopped"
        return StopRequest(f"rule:{decision.rule}", status=status)

    def on_run_end(self, run: Any, result: dict[str, Any]) -> None:
        """Nothing to do: `verify` reads the monitor after the run."""
