"""Small specs shared by the training-engine tests (tiny budgets, one thread)."""

from __future__ import annotations

import math
from typing import Any


def tiny_spec(**over: Any) -> dict[str, Any]:
    """A run on the synthetic task that takes well under a second."""
    spec: dict[str, Any] = {
        "dataset": "synthetic",
        "model": "mlp",
        "optimizer": {"name": "momentum", "momentum": 0.9},
        "policy": {"function": "FIX", "k0": 0.05},
        "batch_size": 32,
        "budget": 60,
        "eval_every": 20,
        "seed": 0,
        "threads": 1,
        "eval_subset": 200,
    }
    spec.update(over)
    return spec


def strip_times(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History points without the wall-clock fields (they differ run to run), NaN as text.

    NaN != NaN, so points with a NaN (the train loss at iteration 0) would never compare
    equal once copied; the text "nan" does.
    """
    return [
        {
            k: ("nan" if isinstance(v, float) and math.isnan(v) else v)
            for k, v in p.items()
            if k not in ("train_seconds", "wall_seconds")
        }
        for p in history
    ]
