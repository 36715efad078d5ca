"""What a stop rule sees: the history so far, the whole schedule, the budget and the target.

The context is a plain value object built from evaluation points (dicts, the engine's
point format), so rules are pure functions over it and can be replayed offline on stored
curves. Schedule features (LR per iteration, its area, a momentum-smoothed LR) are computed
once per context from the policy, because the schedule still to come is known exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy.ndimage import minimum_filter1d
from scipy.signal import lfilter

from workbench.policies import Policy, from_spec

METRIC = "val_top1"


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class Schedule:
    """The LR of every iteration of a budget, with the areas the predictor uses."""

    lrs: np.ndarray  # lr at t = 0 … budget (inclusive, so the last point has an lr)
    area: np.ndarray  # area[t] = sum of lrs[0:t]: the LR area of the first t optimizer steps
    smooth: np.ndarray  # smooth[t]: LR seen through an EMA of time constant tau (iterations)
    trailing_min: np.ndarray  # the lowest LR over the last 10% of the budget up to t
    tau: float

    @classmethod
    def of(cls, policy: Policy, budget: int, tau: float | None = None) -> Schedule:
        """Schedule features of `policy` over `budget` iterations."""
        lrs = np.maximum(np.nan_to_num(policy.values(budget + 1), nan=0.0), 0.0)
        area = np.concatenate([[0.0], np.cumsum(lrs[:-1])])
        # The loss answers an LR change within a few hundred steps on our tasks; 2% of the
        # budget (at least 1) is short, which makes the annealing gain *optimistic* (safe).
        tau = float(tau if tau is not None else max(1.0, 0.02 * budget))
        decay = math.exp(-1.0 / tau)
        # smooth[t] = decay·smooth[t-1] + (1-decay)·lr[t], started at lr[0].
        smooth, _ = lfilter([1.0 - decay], [1.0, -decay], lrs, zi=[decay * lrs[0]])
        # After an LR *rise* the loss needs time to climb to its new noise floor, so a bound
        # "error ≥ B·LR" may only use the lowest LR of the recent past.
        window = max(int(tau), budget // 10, 1)
        trailing = minimum_filter1d(lrs, size=window + 1, origin=window // 2, mode="nearest")
        return cls(lrs=lrs, area=area, smooth=smooth, trailing_min=trailing, tau=tau)

    def at(self, t: int) -> int:
        """`t` clipped to the schedule's range."""
        return int(min(max(t, 0), len(self.lrs) - 1))


@dataclass
class VerifyContext:
    """One stop-rule context (DESIGN.md "Stop rules"): history, policy, budget, target, task."""

    history: list[dict[str, Any]]
    policy: Policy
    budget: int
    target: float | None = None
    task: dict[str, Any] = field(default_factory=dict)
    store: Any = None
    chance: float | None = None
    eval_every: int | None = None
    prior_curves: list[dict[str, Any]] | None = None  # earlier curves of the task, see prior.py
    metric: str = METRIC

    @classmethod
    def build(
        cls, history: list[dict[str, Any]], policy: Policy | dict, budget: int, **kw: Any
    ) -> VerifyContext:
        """A context from plain data (a policy spec is accepted in place of a Policy)."""
        pol = from_spec(policy) if isinstance(policy, dict) else policy
        return cls(history=list(history), policy=pol, budget=int(budget), **kw)

    @cached_property
    def schedule(self) -> Schedule:
        """LR features of the whole budget, past and future."""
        return Schedule.of(self.policy, self.budget)

    @property
    def iteration(self) -> int:
        """The iteration of the latest point (0 before any)."""
        return int(self.history[-1]["iteration"]) if self.history else 0

    @property
    def fraction(self) -> float:
        """Share of the budget spent so far."""
        return self.iteration / max(self.budget, 1)

    def trained(self) -> list[dict[str, Any]]:
        """Points after at least one optimizer step."""
        return [p for p in self.history if int(p.get("iteration", 0)) > 0]

    def series(self, key: str, *, trained: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(iterations, values) of `key` over the points where the value is finite."""
        pts = self.trained() if trained else self.history
        rows = [(int(p["iteration"]), float(p[key])) for p in pts if _finite(p.get(key))]
        if not rows:
            return np.zeros(0, dtype=int), np.zeros(0)
        its, vals = zip(*rows, strict=True)
        return np.asarray(its, dtype=int), np.asarray(vals, dtype=float)

    def start_loss(self) -> float | None:
        """Validation loss before training (the first point), else the first finite loss."""
        for p in self.history:
            for key in ("val_loss", "train_loss"):
                if _finite(p.get(key)):
                    return float(p[key])
        return None

    def chance_level(self) -> float:
        """Chance accuracy: given, else 1/num_classes from the task, else the untrained one."""
        if self.chance is not None:
            return float(self.chance)
        n = self.task.get("num_classes") if isinstance(self.task, dict) else None
        if isinstance(n, int) and n > 1:
            return 1.0 / n
        if self.history and _finite(self.history[0].get(self.metric)):
            # An untrained net sits near chance; cap it so a lucky init cannot hide learning.
            return min(float(self.history[0][self.metric]), 0.5)
        return 0.1
