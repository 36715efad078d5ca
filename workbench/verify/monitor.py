"""The report/ask API: the stop rules for any training loop (optuna's report/should_prune).

>>> m = Monitor({"function": "FIX", "k0": 0.05}, budget=3000, target=0.9)
>>> m.report(0, 0.1, val_loss=2.3)
>>> m.should_stop()
False
"""

from __future__ import annotations

from typing import Any

from workbench.policies import Policy
from workbench.verify.context import VerifyContext
from workbench.verify.rules import Decision, default_rules


class Monitor:
    """Holds a run's history and consults the rules; `shadow` logs without ever stopping."""

    def __init__(
        self,
        policy: Policy | dict[str, Any],
        budget: int,
        target: float | None = None,
        rules: list[Any] | None = None,
        *,
        shadow: bool = False,
        task: dict[str, Any] | None = None,
        store: Any = None,
        chance: float | None = None,
        eval_every: int | None = None,
        prior_curves: list[dict[str, Any]] | None = None,
    ):
        self.context = VerifyContext.build(
            [],
            policy,
            budget,
            target=target,
            task=dict(task or {}),
            store=store,
            chance=chance,
            eval_every=eval_every,
            prior_curves=prior_curves,
        )
        self.rules = list(rules) if rules is not None else default_rules()
        self.shadow = shadow
        self.decision: Decision | None = None  # the first decision (the deciding one)
        self.decisions: list[Decision] = []  # the first decision of each rule, in order
        self._fired: set[str] = set()
        self._asked_at = -1

    @property
    def history(self) -> list[dict[str, Any]]:
        """The points reported so far."""
        return self.context.history

    def report(self, iteration: int, value: float | None = None, **metrics: Any) -> None:
        """Report an evaluation: `value` is the validation top-1 (a fraction)."""
        point: dict[str, Any] = {"iteration": int(iteration), **metrics}
        if value is not None:
            point[self.context.metric] = float(value)
        self.report_point(point)

    def report_point(self, point: dict[str, Any]) -> None:
        """Report an evaluation point in the engine's format (a dict with `iteration`)."""
        self.context.history.append(dict(point))

    def target_reached(self) -> bool:
        """Whether any point so far met the target (verification stops there: meets)."""
        t = self.context.target
        if t is None:
            return False
        _, acc = self.context.series(self.context.metric, trained=False)
        return bool(len(acc) and acc.max() >= t)

    def ask(self) -> Decision | None:
        """The deciding decision so far (None in shadow mode); rules run once per point."""
        if self._asked_at != len(self.history):
            self._asked_at = len(self.history)
            self._consult()
        return None if self.shadow else self.decision

    def should_stop(self) -> bool:
        """True when a rule says stop (never in shadow mode)."""
        return self.ask() is not None

    def _consult(self) -> None:
        # Once the target is met the verdict is settled; later rule firings mean nothing.
        if self.target_reached() or (self.decision is not None and not self.shadow):
            return
        if self.context.iteration >= self.context.budget:
            return  # the budget is spent: a stop now saves nothing, the verdict is fails
        for rule in self.rules:
            name = getattr(rule, "name", type(rule).__name__)
            if name in self._fired:
                continue
            d = rule.should_stop(self.context)
            if d is None:
                continue
            self._fired.add(name)
            self.decisions.append(d)
            if self.decision is None:
                self.decision = d
            if not self.shadow:
                return
