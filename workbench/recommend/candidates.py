"""Candidate stage policies: from an LR range and a stage length, policies of every family
(fixed, decaying, cyclic, restart), plus "same function, new parameters" variants of the
policy a stage is running now.

Each maker below is one small formula of (low, high, length); the registry order inside a
family is the order in which a search with few slots tries them (most often best first).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.errors import BadInput
from workbench.policies import FAMILIES, Single, family_of, from_spec
from workbench.policies.functions import REGISTRY


@dataclass(frozen=True)
class Candidate:
    """A stage policy to try: a label for tables, its family, the spec and where it came
    from ("range": generated from the range test; "variant": a re-parameterised current
    policy; "history": a policy from the store; "optimizer": the task optimizer's
    Schedule-Free counterpart, offered on request). `optimizer` is None for the task's own
    optimizer, else the optimizer spec the candidate trains with instead."""

    label: str
    family: str
    spec: dict[str, Any]
    origin: str = "range"
    optimizer: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (lineage records)."""
        out = {"label": self.label, "family": self.family, "spec": self.spec,
               "origin": self.origin}  # fmt: skip
        if self.optimizer is not None:
            out["optimizer"] = self.optimizer
        return out


Maker = Callable[[float, float, int], dict[str, Any]]

# How far past `high` the hot candidates go (the range test puts `high` a factor 3 below the
# loss minimum of its sweep, so 2× stays below the point where the loss turned up).
HOT = 2.0


def _part(length: int, fraction: float) -> int:
    return max(1, min(length, round(length * fraction)))


# The floor the decays reach: a tenth of the range's low end (LRBench's decays end about
# two orders below their start).
def _floor(low: float) -> float:
    return low / 10


MAKERS: dict[str, dict[str, Maker]] = {
    "fixed": {
        "FIX-high": lambda lo, hi, n: {"function": "FIX", "k0": hi},
        "FIX-mid": lambda lo, hi, n: {"function": "FIX", "k0": math.sqrt(lo * hi)},
    },
    "decaying": {
        "POLY-1": lambda lo, hi, n: {"function": "POLY", "k0": _floor(lo), "k1": hi, "p": 1.0,
                                     "l": n},
        # Past the range's high end (toward the loss minimum of the sweep) and straight
        # down: short budgets reward the hottest LR that still trains (super-convergence).
        "POLY-hot": lambda lo, hi, n: {"function": "POLY", "k0": _floor(lo), "k1": HOT * hi,
                                       "p": 1.0, "l": n},
        "EXP": lambda lo, hi, n: {"function": "EXP", "k0": hi,
                                  "gamma": (_floor(lo) / hi) ** (1.0 / n)},
        "NSTEP": lambda lo, hi, n: {"function": "NSTEP", "k0": hi, "gamma": 0.1,
                                    "l": [_part(n, 0.5), max(_part(n, 0.75), _part(n, 0.5) + 1)]},
        "INV": lambda lo, hi, n: {"function": "INV", "k0": hi, "gamma": (10 ** (4 / 3) - 1) / n,
                                  "p": 0.75},
        "POLY-2": lambda lo, hi, n: {"function": "POLY", "k0": _floor(lo), "k1": hi, "p": 2.0,
                                     "l": n},
        "LINEAR": lambda lo, hi, n: {"function": "LINEAR", "k0": hi, "k1": _floor(lo), "l": n},
        "SIG": lambda lo, hi, n: {"function": "SIG", "k0": hi, "gamma": -10.0 / n,
                                  "l": _part(n, 0.5)},
    },
    "cyclic": {
        "COS": lambda lo, hi, n: {"function": "COS", "k0": _floor(lo), "k1": hi, "l": n},
        "TRI": lambda lo, hi, n: {"function": "TRI", "k0": lo, "k1": hi, "l": _part(n, 0.25)},
        "TRI2": lambda lo, hi, n: {"function": "TRI2", "k0": lo, "k1": hi, "l": _part(n, 1 / 6)},
        "SINEXP": lambda lo, hi, n: {"function": "SINEXP", "k0": lo, "k1": hi,
                                     "gamma": 0.1 ** (1.0 / n), "l": _part(n, 0.25)},
    },
    "restart": {
        "COSRSW": lambda lo, hi, n: {"function": "COSRSW", "k0": _floor(lo), "k1": hi,
                                     "l": _part(n, 0.5)},
        "SINRSW2": lambda lo, hi, n: {"function": "SINRSW2", "k0": _floor(lo), "k1": hi,
                                      "l": _part(n, 1 / 3)},
        "RSW": lambda lo, hi, n: {"function": "RSW", "k0": _floor(lo), "k1": hi,
                                  "l": _part(n, 0.5)},
    },
}  # fmt: skip

# LR scale factors of the "same function, new parameters" variants: keep, halve, a tenth
# (a manual step decay), double (when the current LR is too cautious).
VARIANT_SCALES: dict[str, float] = {"same": 1.0, "x0.5": 0.5, "x0.1": 0.1, "x2": 2.0}


def check_range(low: float, high: float, length: int) -> None:
    """Raise BadInput unless 0 < low <= high (finite) and length >= 2."""
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise BadInput(f"{name}: must be a positive finite learning rate (got {v!r})")
    if low > high:
        raise BadInput(f"low: must be <= high (got low={low!r}, high={high!r})")
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise BadInput(f"length: must be an integer number of iterations >= 2 (got {length!r})")


def from_range(
    low: float, high: float, length: int, families: Iterable[str] = FAMILIES
) -> list[Candidate]:
    """Every registered maker of the given families, instantiated on [low, high] over a
    stage of `length` iterations."""
    check_range(low, high, length)
    out: list[Candidate] = []
    for family in families:
        if family not in MAKERS:
            raise BadInput(f"family: unknown {family!r}; known: {', '.join(MAKERS)}")
        for label, make in MAKERS[family].items():
            spec = from_spec(make(low, high, length)).to_spec()  # validated and canonical
            out.append(Candidate(label, family, spec))
    return out


def variants(
    current: Mapping[str, Any],
    length: int,
    previous_length: int | None = None,
    max_lr: float | None = None,
) -> list[Candidate]:
    """ "Same function, new parameters": the current stage policy with its LRs scaled (see
    VARIANT_SCALES) and its periods stretched from `previous_length` to `length`."""
    policy = from_spec(current)
    if not isinstance(policy, Single):
        policy = policy.stages[-1].policy
    out: list[Candidate] = []
    seen: set[str] = set()
    for label, factor in VARIANT_SCALES.items():
        spec = policy.to_spec()
        if previous_length and previous_length != length:
            spec = policy.retarget(previous_length, length).to_spec()
        for p in REGISTRY[spec["function"]].params:
            if p.kind == "lr":
                spec[p.name] = spec[p.name] * factor
        lrs = [spec[p.name] for p in REGISTRY[spec["function"]].params if p.kind == "lr"]
        if max_lr is not None and factor > 1 and max(lrs) > max_lr:
            continue  # doubling past what the range test allows only invites divergence
        canon = from_spec(spec)
        if canon.hash in seen:
            continue
        seen.add(canon.hash)
        name = spec["function"]
        out.append(Candidate(f"{name}-{label}", family_of(name), canon.to_spec(), "variant"))
    return out


def generate(
    low: float,
    high: float,
    length: int,
    *,
    optimizer: str | None = None,
    current: Mapping[str, Any] | None = None,
    previous_length: int | None = None,
    families: Iterable[str] = FAMILIES,
) -> list[Candidate]:
    """All candidates for a stage: every family from the range, then the variants of the
    current policy (if any). `optimizer` narrows what makes sense for it (see OPTIMIZER_RULES)."""
    out = from_range(low, high, length, families)
    if current is not None:
        out += variants(current, length, previous_length, max_lr=2 * high)
    rule = OPTIMIZER_RULES.get((optimizer or "").lower())
    return rule(out) if rule else out


def _schedule_free_rule(cands: list[Candidate]) -> list[Candidate]:
    # Schedule-Free averages iterates itself; a decaying LR fights its averaging, so only
    # its own shapes (constant, and cycles that keep the LR up) stay first.
    order = {"fixed": 0, "cyclic": 1, "restart": 2, "decaying": 3}
    return sorted(cands, key=lambda c: order[c.family])


OPTIMIZER_RULES: dict[str, Callable[[list[Candidate]], list[Candidate]]] = {
    "schedulefree-sgd": _schedule_free_rule,
    "schedulefree-adamw": _schedule_free_rule,
}


def schedule_free_candidates(
    peak: float, budget: int, optimizer: Mapping[str, Any], stage_len: int
) -> list[Candidate]:
    """The task optimizer's Schedule-Free counterpart as stage-1 candidates: the
    Schedule-Free baseline's policy (the same warm-up, then constant `peak`, the range
    test's high end) with the counterpart optimizer, and the same at HOT × `peak` (as
    POLY-hot is to POLY-1). Empty when `optimizer` already is Schedule-Free; BadInput when
    it has no counterpart."""
    from workbench.recommend.defaults import (
        SCHEDULE_FREE_WARMUP,
        schedule_free_counterpart,
        schedule_free_policy,
    )

    sf = schedule_free_counterpart(optimizer)
    if sf is None:
        return []
    check_range(peak, peak, stage_len)
    w = max(1, round(SCHEDULE_FREE_WARMUP * budget))
    # The warm-up must end inside stage 1 (a composite's later stage starts at its end);
    # only an unusually fine split (20 stages or more) shortens it.
    warmup = w if w < stage_len else max(1, stage_len // 2)
    # The baseline's own recipe first (so the search can always match it), then a hot one:
    # past the range's high end pays on short budgets for Schedule-Free as for the decays
    # (MNIST-1D/cnn1d, Adam's range: 2× reached 80.5% at 200, 200, 250 on seeds 0–2, 1× at
    # 250, 250, 300).
    return [
        Candidate(label, "fixed", schedule_free_policy(lr, budget, warmup), "optimizer", sf)
        for label, lr in (("schedule-free", peak), ("schedule-free-hot", HOT * peak))
    ]


def select(cands: Sequence[Candidate], k: int, first: Sequence[str] = ()) -> list[Candidate]:
    """Pick `k` distinct candidates: those labelled in `first`, then up to half the slots for
    variants and history picks, then round-robin over the families in their priority order,
    so few slots still span the families."""
    if k < 1:
        raise BadInput(f"k: must be >= 1 (got {k!r})")
    chosen: list[Candidate] = []
    seen: set[str] = set()

    def take(c: Candidate) -> None:
        h = from_spec(c.spec).hash
        if h not in seen and len(chosen) < k:
            seen.add(h)
            chosen.append(c)

    for c in cands:
        if c.label in first:
            take(c)
    for c in [c for c in cands if c.origin != "range"][: max(1, k // 2)]:
        take(c)
    queues: dict[str, list[Candidate]] = {}
    for c in cands:
        if c.origin == "range":
            queues.setdefault(c.family, []).append(c)
    while len(chosen) < k and any(queues.values()):
        for family in queues:
            if queues[family]:
                take(queues[family].pop(0))
    return chosen
