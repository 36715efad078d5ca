"""Modern policies built as flat LRBench composites (stored expanded, DESIGN.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.policies.policy import Policy, PolicyError, from_spec


def _stages(*parts: tuple[dict[str, Any], int | None]) -> Policy:
    return from_spec(
        {"stages": [{"policy": p} | ({} if u is None else {"until": u}) for p, u in parts]}
    )


def _split(budget: int, fraction: float, field: str) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 2:
        raise PolicyError("budget", budget, "must be an integer >= 2")
    if not 0 < fraction < 1:
        raise PolicyError(field, fraction, "must be a fraction in (0, 1)")
    return min(budget - 1, max(1, round(budget * fraction)))


def warmup_cosine(
    peak: float, budget: int, warmup: float = 0.05, start: float = 0.0, final: float = 0.0
) -> Policy:
    """Linear warm-up from `start` to `peak` over a `warmup` fraction, then cosine to `final`."""
    w = _split(budget, warmup, "warmup")
    return _stages(
        ({"function": "LINEAR", "k0": start, "k1": peak, "l": w}, w),
        ({"function": "COS", "k0": final, "k1": peak, "l": budget - w}, None),
    )


def one_cycle(
    peak: float,
    budget: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Policy:
    """Smith's one-cycle as torch's OneCycleLR (cosine anneal): peak/div_factor → peak over
    `pct_start` of the budget, then cosine down to peak/div_factor/final_div_factor."""
    up = _split(budget, pct_start, "pct_start")
    low = peak / div_factor
    return _stages(
        ({"function": "UPCOS", "k0": low, "k1": peak, "l": up}, up),
        ({"function": "COS", "k0": low / final_div_factor, "k1": peak, "l": budget - up}, None),
    )


def wsd(
    peak: float, budget: int, warmup: float = 0.05, decay: float = 0.2, final: float = 0.0
) -> Policy:
    """Warmup-stable-decay: linear warm-up, constant `peak`, linear decay to `final` over the
    last `decay` fraction of the budget."""
    w = _split(budget, warmup, "warmup")
    d = _split(budget, decay, "decay")
    if w + d >= budget:
        raise PolicyError("decay", decay, "warm-up and decay leave no stable phase")
    return _stages(
        ({"function": "LINEAR", "k0": 0.0, "k1": peak, "l": w}, w),
        ({"function": "FIX", "k0": peak}, budget - d),
        ({"function": "LINEAR", "k0": peak, "k1": final, "l": d}, None),
    )


def sgdr(peak: float, budget: int, period: int, mult: int = 2, low: float = 0.0) -> Policy:
    """SGDR (Loshchilov & Hutter): cosine from `peak` to `low` over `period` iterations,
    restarting with periods multiplied by `mult`, until the budget ends."""
    if isinstance(period, bool) or not isinstance(period, int) or not 1 <= period < budget:
        raise PolicyError("period", period, f"must be an integer in [1, budget={budget})")
    if isinstance(mult, bool) or not isinstance(mult, int) or mult < 1:
        raise PolicyError("mult", mult, "must be an integer >= 1")
    parts: list[tuple[dict[str, Any], int | None]] = []
    start, length = 0, period
    while start + length < budget:
        parts.append(({"function": "COS", "k0": low, "k1": peak, "l": length}, start + length))
        start, length = start + length, length * mult
    parts.append(({"function": "COS", "k0": low, "k1": peak, "l": length}, None))
    return _stages(*parts)


PRESETS: dict[str, Callable[..., Policy]] = {
    "warmup-cosine": warmup_cosine,
    "one-cycle": one_cycle,
    "wsd": wsd,
    "sgdr": sgdr,
}


def preset(name: str, **kwargs: Any) -> Policy:
    """Build a preset by name (see PRESETS), e.g. preset("one-cycle", peak=0.1, budget=3000)."""
    if name not in PRESETS:
        raise PolicyError("preset", name, f"unknown preset; known: {', '.join(PRESETS)}")
    try:
        return PRESETS[name](**kwargs)
    except TypeError as exc:
        raise PolicyError("preset", kwargs, f"bad arguments for {name}: {exc}") from None
