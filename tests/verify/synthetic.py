"""Synthetic evaluation histories: a noise-floor + progress toy model driven by a schedule."""

from __future__ import annotations

import math
from typing import Any

from workbench.policies import from_spec
from workbench.verify.context import Schedule


def toy_history(
    spec: dict[str, Any],
    budget: int,
    every: int,
    *,
    floor_b: float = 2.0,
    speed: float = 10.0,
    power: float = 1.0,
    start_loss: float = 2.3,
) -> list[dict[str, Any]]:
    """Points whose error is a noise floor B·η̄ plus a progress term in the LR area."""
    sch = Schedule.of(from_spec(spec), budget)
    points = []
    for t in range(0, budget + 1, every):
        progress = 0.9 / (1.0 + speed * sch.area[t]) ** power
        err = min(0.9, progress + floor_b * sch.smooth[t] * (1 - progress / 0.9))
        acc = 1.0 - err
        loss = start_loss * err / 0.9
        points.append(
            {
                "iteration": t,
                "lr": float(sch.lrs[t]),
                "val_top1": acc,
                "val_loss": loss,
                "train_loss": math.nan if t == 0 else loss,
            }
        )
    return points


def curve(iters: list[int], accs: list[float], loss0: float = 2.3) -> list[dict[str, Any]]:
    """Points with given accuracies; losses fall with the error."""
    return [
        {
            "iteration": t,
            "val_top1": a,
            "val_loss": loss0 * (1 - a) / 0.9,
            "train_loss": math.nan if t == 0 else loss0 * (1 - a) / 0.9,
        }
        for t, a in zip(iters, accs, strict=True)
    ]
