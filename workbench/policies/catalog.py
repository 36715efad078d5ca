"""The function catalogue: every function with its family, formula and an example spec.

Widgets, docs, `workbench policies list` and the paper's Table 1 read from here.
"""

from __future__ import annotations

from typing import Any

from workbench.policies.functions import FAMILIES, REGISTRY, LRFunction

# Example values per parameter kind, scaled to a budget where they are iteration counts.
_EXAMPLE_LR = {"k0": 0.001, "k1": 0.01}


def example_spec(name: str, budget: int = 1000) -> dict[str, Any]:
    """A valid, representative spec of function `name` over `budget` iterations."""
    fn: LRFunction = REGISTRY[name.upper()]
    spec: dict[str, Any] = {"function": fn.name}
    for p in fn.params:
        if p.kind == "lr":
            spec[p.name] = _EXAMPLE_LR[p.name]
        elif p.kind == "factor":
            spec[p.name] = 0.1
        elif p.kind == "decay":
            spec[p.name] = 0.1 ** (1.0 / budget)  # a tenfold decay over the budget
        elif p.kind == "rate":
            spec[p.name] = 10.0 / budget if fn.name == "SIG" else 1e-4 * 10_000 / budget
        elif p.kind == "power":
            spec[p.name] = 0.75 if fn.name == "INV" else 1.0
        elif p.kind == "period":
            spec[p.name] = budget if fn.name in ("POLY", "LINEAR") else max(1, budget // 8)
        elif p.kind == "center":
            spec[p.name] = budget // 2
        elif p.kind == "steps":
            spec[p.name] = [budget // 2, (3 * budget) // 4]
    if fn.name in ("POLY",):
        spec["k0"], spec["k1"] = 0.0, 0.01
    if fn.name in ("FIX", "STEP", "NSTEP", "EXP", "INV", "SIG"):
        spec["k0"] = 0.01
    return spec


def catalog() -> list[dict[str, Any]]:
    """One row per function: name, family, formula, parameters (name, kind, doc)."""
    return [
        {
            "name": fn.name,
            "family": fn.family,
            "formula": fn.formula,
            "params": [{"name": p.name, "kind": p.kind, "doc": p.doc} for p in fn.params],
        }
        for fn in REGISTRY.values()
    ]


def family_of(name: str) -> str:
    """The family of function `name`."""
    return REGISTRY[name.upper()].family


__all__ = ["FAMILIES", "catalog", "example_spec", "family_of"]
