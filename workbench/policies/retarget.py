"""Re-targeting: the same LR shape over a new budget (LRBench users change budgets and
batch sizes all the time; "same function, new parameters" is how a policy follows).
"""

from __future__ import annotations

from typing import Any

from workbench.policies.functions import Param
from workbench.policies.policy import Policy, PolicyError, Single, from_spec


def _scale_iterations(n: int, r: float, low: int) -> int:
    return max(low, round(n * r))


def _retarget_param(param: Param, value: Any, r: float) -> Any:
    kind = param.kind
    if kind == "period":
        return _scale_iterations(value, r, 1)
    if kind == "center":
        return _scale_iterations(value, r, 0)
    if kind == "steps":
        out: list[int] = []
        for b in value:  # keep boundaries distinct and increasing after rounding
            out.append(max(_scale_iterations(b, r, 1), out[-1] + 1 if out else 1))
        return out
    if kind == "decay":  # gamma**t at t·r must equal the old gamma**t
        return value ** (1.0 / r)
    if kind == "rate":  # gamma·t at t·r must equal the old gamma·t
        return value / r
    return value  # learning rates, per-step factors and powers keep their meaning


def _retarget_single(policy: Single, r: float) -> dict[str, Any]:
    spec: dict[str, Any] = {"function": policy.function.name}
    for p in policy.function.params:
        spec[p.name] = _retarget_param(p, policy.params[p.name], r)
    return spec


def retarget(policy: Policy, old_budget: int, new_budget: int) -> Policy:
    """Scale periods, step boundaries and stage boundaries by new/old; adjust per-iteration
    decay factors so the curve keeps its shape (values at t·r equal the old ones at t)."""
    for name, b in (("old_budget", old_budget), ("new_budget", new_budget)):
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise PolicyError(name, b, "must be a positive integer number of iterations")
    r = new_budget / old_budget
    stages: list[dict[str, Any]] = []
    previous = 0
    for s in policy.stages:
        entry: dict[str, Any] = {"policy": _retarget_single(s.policy, r)}
        if s.until is not None:
            previous = max(_scale_iterations(s.until, r, 1), previous + 1)
            entry["until"] = previous
        stages.append(entry)
    return from_spec({"stages": stages})
