"""Stop rules: one-method objects, `should_stop(context) -> Decision | None`.

Every rule has a grace period (no decision before it) and a safety margin (how far on the
safe side of the line the evidence must be), both documented on the class. Rules only read
the context; the training loop reports and asks (optuna's pruner pattern).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from workbench.verify.context import VerifyContext

REJECT = "reject"
DIVERGED = "diverged"


@dataclass
class Decision:
    """A rule's reason to stop: `kind` is "reject" (stop, verdict rejected) or "diverged"."""

    rule: str
    iteration: int
    reason: str
    kind: str = REJECT
    evidence: dict[str, Any] = field(default_factory=dict)
    predicted_final: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (`action` repeats `kind` under the store's column name)."""
        out = asdict(self)
        out["action"] = self.kind
        return out


@runtime_checkable
class StopRule(Protocol):
    """A stop rule: a name, the points it needs, and one method."""

    name: str

    def should_stop(self, context: VerifyContext) -> Decision | None:
        """A decision to stop now, or None to go on."""


class NeverStop:
    """Never stops: the baseline that runs every policy to its budget."""

    name = "never"
    min_points = 0

    def should_stop(self, context: VerifyContext) -> Decision | None:
        """Always None."""
        return None


class Divergence:
    """Non-finite loss, or training loss far above its start for `patience` points in a row.

    Grace: none for non-finite values (they never recover); `patience` points otherwise.
    Margin: `factor` × the loss before training (ln 10 ≈ 2.3 for 10 classes, so the default
    fires above ≈ 11.5, far beyond the late rise of an overfitting validation loss).
    """

    name = "divergence"
    min_points = 1

    def __init__(self, factor: float = 5.0, patience: int = 2):
        self.factor = factor
        self.patience = patience

    def should_stop(self, context: VerifyContext) -> Decision | None:
        """Diverged when the latest loss is non-finite or stayed far above the start."""
        pts = context.trained()
        if not pts:
            return None
        last = pts[-1]
        for key in ("train_loss", "val_loss"):
            v = last.get(key)
            if v is not None and not (isinstance(v, int | float) and math.isfinite(v)):
                return Decision(
                    self.name,
                    context.iteration,
                    f"non-finite {key}",
                    DIVERGED,
                    {key: v},
                    predicted_final=None,
                )
        start = context.start_loss()
        if start is None or len(pts) < self.patience:
            return None
        recent = [p.get("train_loss") for p in pts[-self.patience :]]
        limit = self.factor * start
        if all(isinstance(v, int | float) and v > limit for v in recent):
            return Decision(
                self.name,
                context.iteration,
                f"training loss above {self.factor:g}× its start for {self.patience} points",
                DIVERGED,
                {"start_loss": start, "recent_train_loss": recent, "limit": limit},
            )
        return None


class StuckAtChance:
    """Accuracy still at chance after a grace period, and the loss is not going to move.

    Grace: `grace` of the budget and `min_points` trained points. Margin: "at chance" means
    the best of the last `window` points is below chance + `delta`; the loss drop per unit
    of LR area so far, extrapolated linearly over the whole schedule's area (so a warm-up or
    a rise still to come counts) and multiplied by `safety`, must stay below `needed` of the
    starting loss. A run that moves its loss at all (a slow start) is left alone.
    """

    name = "stuck_at_chance"

    def __init__(
        self,
        grace: float = 0.1,
        min_points: int = 3,
        window: int = 3,
        delta: float = 0.05,
        safety: float = 5.0,
        needed: float = 0.25,
    ):
        self.grace, self.min_points, self.window = grace, min_points, window
        self.delta, self.safety, self.needed = delta, safety, needed

    def should_stop(self, context: VerifyContext) -> Decision | None:
        """Reject a run that has not left chance and cannot move its loss enough."""
        if context.fraction < self.grace:
            return None
        _, acc = context.series(context.metric)
        if len(acc) < self.min_points:
            return None
        chance = context.chance_level()
        best_recent = float(np.max(acc[-self.window :]))
        if best_recent > chance + self.delta:
            return None
        start = context.start_loss()
        its, loss = context.series("val_loss")
        if start is None or len(loss) == 0:
            return None
        sch = context.schedule
        area_now = sch.area[sch.at(int(its[-1]))]
        area_end = sch.area[-1]
        drop = max(start - float(np.min(loss)), 0.0)
        if area_now <= 0:
            return None
        reachable = drop * (area_end / area_now) * self.safety
        if reachable >= self.needed * start:
            return None
        return Decision(
            self.name,
            context.iteration,
            f"accuracy {best_recent:.3f} at chance ({chance:.3f}); loss drop {drop:.3g} so far "
            f"cannot reach {self.needed:.0%} of {start:.3g} over the remaining LR area",
            evidence={
                "best_recent": best_recent,
                "chance": chance,
                "loss_drop": drop,
                "area_now": float(area_now),
                "area_end": float(area_end),
                "reachable_drop": reachable,
            },
            predicted_final=best_recent,
        )


class Plateau:
    """No improvement over a window, well below the target, with a flat schedule ahead.

    Grace: `grace` of the budget. Margin: the best accuracy must be below target − `margin`
    and must not have improved by more than `min_delta` over the last `window` of the
    budget. Schedule-aware: the rule abstains while the smoothed LR still to come leaves
    [current / `lr_ratio`, current × `lr_ratio`] (a step decay, an annealing tail or a
    restart ahead can lift a plateau).
    """

    name = "plateau"

    def __init__(
        self,
        grace: float = 0.3,
        window: float = 0.25,
        min_delta: float = 0.005,
        margin: float = 0.05,
        lr_ratio: float = 2.0,
        min_points: int = 4,
    ):
        self.grace, self.window, self.min_delta = grace, window, min_delta
        self.margin, self.lr_ratio, self.min_points = margin, lr_ratio, min_points

    def should_stop(self, context: VerifyContext) -> Decision | None:
        """Reject a flat curve below the target when nothing in the schedule will change it."""
        if context.target is None or context.fraction < self.grace:
            return None
        its, acc = context.series(context.metric)
        if len(acc) < self.min_points:
            return None
        best = float(np.max(acc))
        if best >= context.target - self.margin:
            return None
        cut = its[-1] - self.window * context.budget
        before = acc[its <= cut]
        if len(before) == 0 or np.sum(its > cut) < 2:
            return None
        gain = best - float(np.max(before))
        if gain > self.min_delta:
            return None
        sch = context.schedule
        now = sch.smooth[sch.at(int(its[-1]))]
        ahead = sch.smooth[sch.at(int(its[-1])) :]
        if now <= 0 or ahead.min() < now / self.lr_ratio or ahead.max() > now * self.lr_ratio:
            return None
        return Decision(
            self.name,
            context.iteration,
            f"best {best:.3f} gained {gain:.3f} over the last {self.window:.0%} of the budget, "
            f"target {context.target:.3f}, no LR change ahead",
            evidence={"best": best, "gain": gain, "window_start": float(cut)},
            predicted_final=best,
        )


def default_rules() -> list[Any]:
    """The rules `verify` uses unless told otherwise, cheapest first."""
    from workbench.verify.predictor import UnreachableTarget

    return [Divergence(), StuckAtChance(), Plateau(), UnreachableTarget()]


def rule_names(rules: list[Any]) -> list[str]:
    """Names of `rules`, for logs."""
    return [getattr(r, "name", type(r).__name__) for r in rules]
