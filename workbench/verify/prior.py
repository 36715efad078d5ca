"""Earlier curves of the same task, read duck-typed from a results store.

The store is optional and its exact API may grow; anything unexpected yields no prior
(verification then relies on the run's own curve), never an error.
"""

from __future__ import annotations

import math
from typing import Any

from workbench import jsonio


def _records(frame: Any) -> list[dict[str, Any]]:
    if frame is None:
        return []
    if hasattr(frame, "to_dict"):
        try:
            return list(frame.to_dict("records"))
        except TypeError:
            pass
    return list(frame) if isinstance(frame, list) else []


def _as_dict(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip()[:1] in "{[":
        try:
            return jsonio.loads(value)
        except ValueError:
            return value
    return value


def curves_from_store(store: Any, task: dict[str, Any], limit: int = 50) -> list[dict[str, Any]]:
    """[{policy, budget, status, history}] of earlier runs of `task` (probes excluded)."""
    try:
        runs = _records(store.history_for_task(task))[-limit:]
        ids = [r["run_id"] for r in runs if r.get("run_id")]
        points = _records(store.curves(ids)) if ids else []
    except Exception:  # the store is optional read access; any failure means no prior
        return []
    by_run: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        by_run.setdefault(p.get("run_id"), []).append({k: v for k, v in p.items() if k != "run_id"})
    out: list[dict[str, Any]] = []
    for row in runs:
        policy = _as_dict(row.get("policy"))
        history = sorted(by_run.get(row.get("run_id"), []), key=lambda p: p.get("iteration", 0))
        if not isinstance(policy, dict) or not history:
            continue
        budget = row.get("budget")
        if not isinstance(budget, int | float) or not math.isfinite(budget):
            budget = max(int(p.get("iteration", 0)) for p in history)
        out.append(
            {"policy": policy, "budget": int(budget), "status": row.get("status"),
             "history": history}
        )  # fmt: skip
    return out
