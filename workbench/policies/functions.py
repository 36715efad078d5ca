"""The LR functions of LRBench (plus LINEAR), as a registry of small frozen definitions.

Every formula is written once against a tiny math namespace, so the same code runs on a
Python float (`policy(t)`, the scheduler's hot path) and on a numpy array (`values(n)`).
Formulas follow the public LRBench code (LRBench/lr/LRfunctions.py) exactly, including
its quirks (COS starts at k1, RSW is k0 at t = 0, TRI2 halves per full period); the
golden values in shared/reference pin them down.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

FAMILIES = ("fixed", "decaying", "cyclic", "restart")


def _sigmoid_scalar(x: float) -> float:
    # The two-branch form never overflows, unlike 1 / (1 + exp(-x)) for very negative x.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid_array(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# `m` in the formulas: scalar math or numpy, same names.
def _pow_scalar(a: float, b: float) -> float:
    # Python raises on float overflow; a learning rate that grows past 1e308 is inf.
    try:
        return a**b
    except OverflowError:
        return math.inf


def _halve_scalar(n: float) -> float:
    """2^(−n), exact, and 0.0 rather than an overflow for huge n."""
    return math.ldexp(1.0, -int(n))


def _halve_array(n: np.ndarray) -> np.ndarray:
    return np.ldexp(1.0, -np.asarray(n, dtype=np.int64))


# `m` in the formulas: scalar math or numpy, same names. The halvings of the *2 functions
# are written as multiplications by 2^(−n), equal bit for bit to LRBench's divisions.
SCALAR = SimpleNamespace(
    sin=math.sin, cos=math.cos, asin=math.asin, fabs=math.fabs, floor=math.floor,
    minimum=min, sigmoid=_sigmoid_scalar, pow=_pow_scalar, halve=_halve_scalar, pi=math.pi,
)  # fmt: skip
ARRAY = SimpleNamespace(
    sin=np.sin, cos=np.cos, asin=np.arcsin, fabs=np.fabs, floor=np.floor,
    minimum=np.minimum, sigmoid=_sigmoid_array, pow=np.power, halve=_halve_array, pi=math.pi,
)  # fmt: skip


@dataclass(frozen=True)
class Param:
    """One parameter of an LR function.

    kind fixes validation and re-targeting:
      lr      a learning rate: finite, >= 0
      factor  a per-step multiplier (STEP/NSTEP gamma): finite, > 0; unchanged by re-targeting
      decay   a per-iteration multiplier (gamma**t): finite, > 0; becomes gamma**(1/r)
      rate    multiplies t (INV, SIG gamma): finite (>= 0 for INV); becomes gamma / r
      power   an exponent p: finite, >= 0 (INV) or > 0 (POLY)
      period  an iteration count l: integer >= 1; scaled by r
      center  SIG's midpoint l: integer >= 0; scaled by r
      steps   NSTEP's boundaries l: a non-empty, strictly increasing list of integers >= 1
    """

    name: str
    kind: str
    doc: str
    positive: bool = False  # for `rate`/`power`: strictly positive


@dataclass(frozen=True)
class LRFunction:
    """A registered LR function: name, family, parameters, formula (text) and code."""

    name: str
    family: str
    params: tuple[Param, ...]
    formula: str
    fn: Callable[..., Any]

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def doc(self) -> str:
        """Human-readable description: name, family, formula, parameters."""
        lines = [f"{self.name} ({self.family}): lr(t) = {self.formula}"]
        lines += [f"  {p.name}: {p.doc}" for p in self.params]
        return "\n".join(lines)


REGISTRY: dict[str, LRFunction] = {}

K0 = Param("k0", "lr", "learning rate (start / lower bound)")
K1 = Param("k1", "lr", "learning rate (second bound)")
PERIOD = Param("l", "period", "half-cycle / period length in iterations")
DECAY = Param("gamma", "decay", "per-iteration decay factor, applied as gamma**t")


def register(name: str, family: str, params: tuple[Param, ...], formula: str):
    """Decorator: register `fn(m, t, **params)` as the LR function `name`."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__doc__ = f"{name} ({family}): lr(t) = {formula}"
        REGISTRY[name] = LRFunction(name, family, params, formula, fn)
        return fn

    return wrap


# --- fixed -----------------------------------------------------------------------------


@register("FIX", "fixed", (K0,), "k0")
def _fix(m, t, k0):
    return k0 + 0.0 * t


# --- decaying --------------------------------------------------------------------------


@register(
    "STEP",
    "decaying",
    (K0, Param("gamma", "factor", "multiplier applied every l iterations"), PERIOD),
    "k0 · gamma^floor(t / l)",
)
def _step(m, t, k0, gamma, l):
    return k0 * m.pow(gamma, m.floor(t / l))


@register(
    "NSTEP",
    "decaying",
    (
        K0,
        Param("gamma", "factor", "multiplier applied at each boundary"),
        Param("l", "steps", "increasing iteration boundaries"),
    ),
    "k0 · gamma^n(t), n(t) = number of boundaries l_i <= t",
)
def _nstep(m, t, k0, gamma, l):
    if isinstance(t, np.ndarray):
        n = np.searchsorted(np.asarray(l), t, side="right")
    else:
        n = sum(1 for b in l if b <= t)
    return k0 * m.pow(gamma, n)


@register("EXP", "decaying", (K0, DECAY), "k0 · gamma^t")
def _exp(m, t, k0, gamma):
    return k0 * m.pow(gamma, t)


@register(
    "INV",
    "decaying",
    (
        K0,
        Param("gamma", "rate", "decay rate per iteration"),
        Param("p", "power", "decay power"),
    ),
    "k0 · (1 + gamma·t)^(−p)",
)
def _inv(m, t, k0, gamma, p):
    return k0 * m.pow(1 + gamma * t, -p)


@register(
    "POLY",
    "decaying",
    (
        Param("k0", "lr", "final learning rate (reached at t = l)"),
        Param("k1", "lr", "initial learning rate"),
        Param("p", "power", "polynomial power", positive=True),
        Param("l", "period", "iterations to reach k0 (held afterwards)"),
    ),
    "(k1 − k0) · (1 − min(t, l)/l)^p + k0",
)
def _poly(m, t, k0, k1, p, l):
    # LRBench leaves t > l undefined; DESIGN.md: hold k0 there.
    return (k1 - k0) * (1.0 - 1.0 * m.minimum(t, l) / l) ** p + k0


@register(
    "SIG",
    "decaying",
    (
        K0,
        Param("gamma", "rate", "steepness (negative: increasing curve)"),
        Param("l", "center", "midpoint iteration"),
    ),
    "k0 / (1 + e^(−gamma·(t − l)))",
)
def _sig(m, t, k0, gamma, l):
    return k0 * m.sigmoid(gamma * (t - l))


@register(
    "LINEAR",
    "decaying",
    (K0, Param("k1", "lr", "learning rate reached at t = l"), PERIOD),
    "k0 + (k1 − k0) · min(t, l)/l",
)
def _linear(m, t, k0, k1, l):
    return k0 + (k1 - k0) * (m.minimum(t, l) / l)


# --- cyclic ----------------------------------------------------------------------------

CYC = (K0, K1, PERIOD)
CYC_EXP = (K0, K1, DECAY, PERIOD)


def _tri_wave(m, x):
    """2/π · |asin(sin(π x))|: a triangle wave in [0, 1] with period 1, 0 at x = 0."""
    return (2 / m.pi) * m.fabs(m.asin(m.sin(m.pi * x)))


@register("TRI", "cyclic", CYC, "(k1 − k0) · (2/π)|asin(sin(π t / 2l))| + k0")
def _tri(m, t, k0, k1, l):
    return (k1 - k0) * _tri_wave(m, t / (2 * l)) + k0


@register("DTRI", "cyclic", CYC, "(k1 − k0) · (2/π)|asin(sin(π (t + l) / 2l))| + k0")
def _dtri(m, t, k0, k1, l):
    return (k1 - k0) * _tri_wave(m, (t + l) / (2.0 * l)) + k0


@register("TRI2", "cyclic", CYC, "(k1 − k0) · (2/π)|asin(sin(π t / 2l))| / 2^floor(t / 2l) + k0")
def _tri2(m, t, k0, k1, l):
    return (k1 - k0) * _tri_wave(m, t / (2 * l)) * m.halve(m.floor(t / (2 * l))) + k0


@register(
    "DTRI2",
    "cyclic",
    CYC,
    "(k1 − k0) · (2/π)|asin(sin(π (t + l) / 2l))| / 2^floor((t + l) / 2l) + k0",
)
def _dtri2(m, t, k0, k1, l):
    return (k1 - k0) * _tri_wave(m, (t + l) / (2 * l)) * m.halve(m.floor((t + l) / (2 * l))) + k0


@register("TRIEXP", "cyclic", CYC_EXP, "(k1 − k0) · (2/π)|asin(sin(π t / 2l))| · gamma^t + k0")
def _triexp(m, t, k0, k1, gamma, l):
    return (k1 - k0) * _tri_wave(m, t / (2 * l)) * m.pow(gamma, t) + k0


@register(
    "DTRIEXP", "cyclic", CYC_EXP, "(k1 − k0) · (2/π)|asin(sin(π (t + l) / 2l))| · gamma^t + k0"
)
def _dtriexp(m, t, k0, k1, gamma, l):
    return (k1 - k0) * _tri_wave(m, (t + l) / (2 * l)) * m.pow(gamma, t) + k0


@register("SIN", "cyclic", CYC, "(k1 − k0) · |sin(π t / 2l)| + k0")
def _sin(m, t, k0, k1, l):
    return (k1 - k0) * m.fabs(m.sin(m.pi * t / (2 * l))) + k0


@register("DSIN", "cyclic", CYC, "(k1 − k0) · |sin(π (t + l) / 2l)| + k0")
def _dsin(m, t, k0, k1, l):
    return (k1 - k0) * m.fabs(m.sin(m.pi * (t + l) / (2 * l))) + k0


@register("SIN2", "cyclic", CYC, "(k1 − k0) · |sin(π t / 2l)| / 2^floor(t / 2l) + k0")
def _sin2(m, t, k0, k1, l):
    return (k1 - k0) * m.fabs(m.sin(m.pi * t / (2 * l))) * m.halve(m.floor(t / (2 * l))) + k0


@register("DSIN2", "cyclic", CYC, "(k1 − k0) · |sin(π (t + l) / 2l)| / 2^floor((t + l) / 2l) + k0")
def _dsin2(m, t, k0, k1, l):
    return (k1 - k0) * m.fabs(m.sin(m.pi * (t + l) / (2 * l))) * m.halve(
        m.floor((t + l) / (2 * l))
    ) + k0


@register("SINEXP", "cyclic", CYC_EXP, "(k1 − k0) · |sin(π t / 2l)| · gamma^t + k0")
def _sinexp(m, t, k0, k1, gamma, l):
    return (k1 - k0) * m.fabs(m.sin(m.pi * t / (2 * l))) * m.pow(gamma, t) + k0


@register("DSINEXP", "cyclic", CYC_EXP, "(k1 − k0) · |sin(π (t + l) / 2l)| · gamma^t + k0")
def _dsinexp(m, t, k0, k1, gamma, l):
    return (k1 - k0) * m.fabs(m.sin(m.pi * (t + l) / (2 * l))) * m.pow(gamma, t) + k0


@register("COS", "cyclic", CYC, "(k1 − k0) · ½(1 + cos(π t / l)) + k0")
def _cos(m, t, k0, k1, l):
    return (k1 - k0) * 0.5 * (1 + m.cos(m.pi * t / l)) + k0


@register("UPCOS", "cyclic", CYC, "(k1 − k0) · ½(1 + cos(π (t / l + 1))) + k0")
def _upcos(m, t, k0, k1, l):
    return (k1 - k0) * 0.5 * (1 + m.cos(m.pi * (1.0 * t / l + 1.0))) + k0


@register("COS2", "cyclic", CYC, "(k1 − k0) · ½(1 + cos(π t / l)) / 2^floor((t + l) / 2l) + k0")
def _cos2(m, t, k0, k1, l):
    return (k1 - k0) * 0.5 * (1 + m.cos(m.pi * t / l)) * m.halve(m.floor((t + l) / (2 * l))) + k0


@register("UPCOS2", "cyclic", CYC, "(k1 − k0) · ½(1 + cos(π (t / l + 1))) / 2^floor(t / 2l) + k0")
def _upcos2(m, t, k0, k1, l):
    return (k1 - k0) * 0.5 * (1 + m.cos(m.pi * (1.0 * t / l + 1.0))) * m.halve(
        m.floor(t / (2 * l))
    ) + k0


@register("COSEXP", "cyclic", CYC_EXP, "(k1 − k0) · ½(1 + cos(π t / l)) · gamma^t + k0")
def _cosexp(m, t, k0, k1, gamma, l):
    return (k1 - k0) * 0.5 * (1 + m.cos(m.pi * t / l)) * m.pow(gamma, t) + k0


@register("UPCOSEXP", "cyclic", CYC_EXP, "(k1 − k0) · ½(1 + cos(π (t / l + 1))) · gamma^t + k0")
def _upcosexp(m, t, k0, k1, gamma, l):
    return (k1 - k0) * 0.5 * (1 + m.cos(m.pi * (1.0 * t / l + 1.0))) * m.pow(gamma, t) + k0


# --- restart ---------------------------------------------------------------------------


def _saw(m, t, l):
    """(−t/l) − floor(−t/l): 0 at t = 0, then falls from ≈1 to 0 over each period."""
    x = -1.0 * t / l
    return x - m.floor(x)


@register("RSW", "restart", CYC, "(k1 − k0) · s(t) + k0, s(t) = −t/l − floor(−t/l)")
def _rsw(m, t, k0, k1, l):
    return (k1 - k0) * _saw(m, t, l) + k0


@register("RSW2", "restart", CYC, "(k1 − k0) · s(t) / 2^floor(t / l) + k0")
def _rsw2(m, t, k0, k1, l):
    return (k1 - k0) * _saw(m, t, l) * m.halve(m.floor(1.0 * t / l)) + k0


@register("RSWEXP", "restart", CYC_EXP, "(k1 − k0) · s(t) · gamma^t + k0")
def _rswexp(m, t, k0, k1, gamma, l):
    return (k1 - k0) * _saw(m, t, l) * m.pow(gamma, t) + k0


@register("SINRSW", "restart", CYC, "(k1 − k0) · sin(π/2 · s(t)) + k0")
def _sinrsw(m, t, k0, k1, l):
    return (k1 - k0) * m.sin(m.pi / 2.0 * _saw(m, t, l)) + k0


@register("SINRSW2", "restart", CYC, "(k1 − k0) · sin(π/2 · s(t)) / 2^floor(t / l) + k0")
def _sinrsw2(m, t, k0, k1, l):
    return (k1 - k0) * m.sin(m.pi / 2.0 * _saw(m, t, l)) * m.halve(m.floor(1.0 * t / l)) + k0


@register("SINRSWEXP", "restart", CYC_EXP, "(k1 − k0) · sin(π/2 · s(t)) · gamma^t + k0")
def _sinrswexp(m, t, k0, k1, gamma, l):
    return (k1 - k0) * m.sin(m.pi / 2.0 * _saw(m, t, l)) * m.pow(gamma, t) + k0


@register("COSRSW", "restart", CYC, "(k1 − k0) · ½(1 − cos(π s(t))) + k0")
def _cosrsw(m, t, k0, k1, l):
    return (k1 - k0) * 0.5 * (1 - m.cos(m.pi * _saw(m, t, l))) + k0


@register("COSRSW2", "restart", CYC, "(k1 − k0) · ½(1 − cos(π s(t))) / 2^floor(t / l) + k0")
def _cosrsw2(m, t, k0, k1, l):
    return (k1 - k0) * 0.5 * (1 - m.cos(m.pi * _saw(m, t, l))) * m.halve(m.floor(1.0 * t / l)) + k0


@register("COSRSWEXP", "restart", CYC_EXP, "(k1 − k0) · ½(1 − cos(π s(t))) · gamma^t + k0")
def _cosrswexp(m, t, k0, k1, gamma, l):
    return (k1 - k0) * 0.5 * (1 - m.cos(m.pi * _saw(m, t, l))) * m.pow(gamma, t) + k0


def by_family() -> dict[str, list[str]]:
    """Function names grouped by family, in registry order."""
    groups: dict[str, list[str]] = {f: [] for f in FAMILIES}
    for fn in REGISTRY.values():
        groups[fn.family].append(fn.name)
    return groups
