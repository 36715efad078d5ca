"""Policies: a validated LR function with parameters, or stages of them (LRBench piecewise).

A policy is immutable and a pure function of the iteration `t`: no hidden step counter
(LRBench's NSTEP and piecewise kept one in globals), so any `t` can be asked in any order,
and resuming is just asking for the next `t`.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from workbench.errors import BadInput
from workbench.policies.functions import ARRAY, REGISTRY, SCALAR, LRFunction, Param

SCHEMA_VERSION = 1


MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


class PolicyError(BadInput):
    """A policy spec is invalid; the message names the field and the bad value.

    A `ValueError` (through `BadInput`, a leaf module, so `policies` stays standalone).
    """

    def __init__(self, field: str, value: Any, problem: str):
        self.field, self.value, self.problem = field, value, problem
        shown = "" if value is MISSING else f" (got {value!r})"
        super().__init__(f"{field}: {problem}{shown}")


# --- parameter validation ----------------------------------------------------------------


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(field, value, "must be a number")
    x = float(value)
    if not math.isfinite(x):
        raise PolicyError(field, value, "must be finite")
    return x


def _integer(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(field, value, "must be an integer")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise PolicyError(field, value, "must be a whole number of iterations")
    return int(value)


def _check_param(field: str, param: Param, value: Any) -> float | int | tuple[int, ...]:
    """Validate one parameter value by its kind; returns the normalised value."""
    kind = param.kind
    if kind == "steps":
        if not isinstance(value, list | tuple) or not value:
            raise PolicyError(field, value, "must be a non-empty list of iteration boundaries")
        steps = tuple(_integer(f"{field}[{i}]", v) for i, v in enumerate(value))
        if steps[0] < 1:
            raise PolicyError(field, list(value), "boundaries must be >= 1")
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise PolicyError(field, list(value), "boundaries must be strictly increasing")
        return steps
    if kind in ("period", "center"):
        n = _integer(field, value)
        low = 1 if kind == "period" else 0
        if n < low:
            what = "a period must be positive" if kind == "period" else "must be >= 0"
            raise PolicyError(field, value, what)
        return n
    x = _number(field, value)
    if kind == "lr" and x < 0:
        raise PolicyError(field, value, "a learning rate cannot be negative")
    if kind in ("factor", "decay") and x <= 0:
        raise PolicyError(field, value, "must be > 0")
    if kind in ("rate", "power"):
        if param.positive and x <= 0:
            raise PolicyError(field, value, "must be > 0")
        if kind == "power" and x < 0:
            raise PolicyError(field, value, "must be >= 0")
    return x


def _check_t(t: Any) -> int:
    if isinstance(t, bool) or not isinstance(t, int | np.integer):
        raise TypeError(f"iteration t must be an integer, got {t!r}")
    if t < 0:
        raise ValueError(f"iteration t must be >= 0, got {t}")
    return int(t)


# --- policies ------------------------------------------------------------------------------


class Policy:
    """A learning-rate policy: `policy(t)` is the LR at iteration t (t >= 0)."""

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def values(self, n: int, start: int = 0) -> np.ndarray:
        """LRs at iterations start, …, start + n − 1, computed with numpy."""
        raise NotImplementedError

    def to_spec(self) -> dict[str, Any]:
        """The canonical JSON-able spec (DESIGN.md "Canonical form and hash")."""
        raise NotImplementedError

    @property
    def stages(self) -> tuple[Stage, ...]:
        raise NotImplementedError

    @cached_property
    def canonical_json(self) -> str:
        """Sorted keys, no spaces, floats as repr(float)."""
        return json.dumps(self.to_spec(), sort_keys=True, separators=(",", ":"))

    @cached_property
    def hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON: the policy's identity in the store."""
        return hashlib.sha256(self.canonical_json.encode()).hexdigest()

    @property
    def short_hash(self) -> str:
        """The first 16 hex digits of `hash`, as shown to people."""
        return self.hash[:16]

    @property
    def functions(self) -> tuple[str, ...]:
        """Function names of the stages, in order."""
        return tuple(s.policy.function.name for s in self.stages)

    @property
    def text(self) -> str:
        """The compact text form (parse it back with `from_text`)."""
        from workbench.policies.text import to_text

        return to_text(self)

    def scheduler(self, optimizer: Any, scales: Sequence[float] | None = None) -> Any:
        """A torch LRScheduler applying this policy, stepped once per iteration."""
        from workbench.policies.scheduler import PolicyScheduler

        return PolicyScheduler(optimizer, self, scales=scales)

    def retarget(self, old_budget: int, new_budget: int) -> Policy:
        """The same shape over `new_budget` iterations instead of `old_budget`."""
        from workbench.policies.retarget import retarget

        return retarget(self, old_budget, new_budget)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and self.canonical_json == other.canonical_json

    def __hash__(self) -> int:
        return hash(self.canonical_json)

    def __repr__(self) -> str:
        return f"<Policy {self.text}>"


class Single(Policy):
    """One LR function with validated parameters."""

    def __init__(self, function: LRFunction, params: Mapping[str, Any]):
        self.function = function
        self.params = dict(params)
        fn = function.fn
        kwargs = self.params
        # Bound once: the scheduler calls this every iteration.
        self._scalar = lambda t: float(fn(SCALAR, t, **kwargs))

    def __call__(self, t: int) -> float:
        return self._scalar(_check_t(t))

    def values(self, n: int, start: int = 0) -> np.ndarray:
        t = np.arange(start, start + n, dtype=np.float64)
        with np.errstate(over="ignore", under="ignore"):
            out = self.function.fn(ARRAY, t, **self.params)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), t.shape).copy()

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"function": self.function.name}
        for p in self.function.params:
            v = self.params[p.name]
            spec[p.name] = list(v) if isinstance(v, tuple) else v
        return spec

    @property
    def stages(self) -> tuple[Stage, ...]:
        return (Stage(self, None),)


@dataclass(frozen=True)
class Stage:
    """One stage of a composite: `policy` on [previous until, until), its own clock."""

    policy: Single
    until: int | None


class Composite(Policy):
    """Stages with absolute, exclusive boundaries; each stage's clock restarts at 0."""

    def __init__(self, stages: Sequence[Stage]):
        self._stages = tuple(stages)
        self._untils = [s.until for s in self._stages[:-1]]
        self._starts = [0, *self._untils]

    @property
    def stages(self) -> tuple[Stage, ...]:
        return self._stages

    @property
    def boundaries(self) -> list[int]:
        """Absolute iterations where a new stage starts."""
        return list(self._untils)

    def stage_at(self, t: int) -> int:
        """Index of the stage that covers iteration t."""
        return bisect.bisect_right(self._untils, t)

    def __call__(self, t: int) -> float:
        t = _check_t(t)
        i = bisect.bisect_right(self._untils, t)
        return self._stages[i].policy._scalar(t - self._starts[i])

    def values(self, n: int, start: int = 0) -> np.ndarray:
        out = np.empty(n, dtype=np.float64)
        end = start + n
        for i, stage in enumerate(self._stages):
            lo, hi = self._starts[i], stage.until if stage.until is not None else end
            a, b = max(lo, start), min(hi, end)
            if a < b:
                out[a - start : b - start] = stage.policy.values(b - a, start=a - lo)
        return out

    def to_spec(self) -> dict[str, Any]:
        stages = []
        for s in self._stages:
            entry: dict[str, Any] = {"policy": s.policy.to_spec()}
            if s.until is not None:
                entry["until"] = s.until
            stages.append(entry)
        return {"stages": stages}


# --- building from specs ---------------------------------------------------------------------


def _check_schema(spec: Mapping[str, Any], field: str) -> None:
    if "schema" in spec:
        v = spec["schema"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise PolicyError(f"{field}schema", v, "must be a positive integer schema version")
        if v > SCHEMA_VERSION:
            raise PolicyError(
                f"{field}schema",
                v,
                f"this spec was written by a newer workbench (schema {v}); this version "
                f"reads schema <= {SCHEMA_VERSION}: upgrade lr-workbench",
            )


def _single_from_spec(spec: Any, field: str = "") -> Single:
    if not isinstance(spec, Mapping):
        raise PolicyError(field or "policy", spec, "must be a JSON object")
    _check_schema(spec, field)
    if "function" not in spec:
        raise PolicyError(f"{field}function", MISSING, "missing; give an LR function name")
    name = spec["function"]
    if not isinstance(name, str) or name.upper() not in REGISTRY:
        known = ", ".join(REGISTRY)
        raise PolicyError(f"{field}function", name, f"unknown LR function; known: {known}")
    function = REGISTRY[name.upper()]
    given = set(spec) - {"function", "schema"}
    expected = set(function.param_names)
    if extra := sorted(given - expected):
        raise PolicyError(
            f"{field}{extra[0]}",
            spec[extra[0]],
            f"not a parameter of {function.name} (takes {', '.join(function.param_names)})",
        )
    if missing := [p for p in function.param_names if p not in given]:
        raise PolicyError(
            f"{field}{missing[0]}",
            MISSING,
            f"missing; {function.name} takes {', '.join(function.param_names)}",
        )
    params = {p.name: _check_param(f"{field}{p.name}", p, spec[p.name]) for p in function.params}
    return Single(function, params)


def from_spec(spec: Any) -> Policy:
    """Build a policy from a spec (single or composite); raises PolicyError if invalid."""
    if isinstance(spec, Policy):
        return spec
    if not isinstance(spec, Mapping):
        raise PolicyError("policy", spec, "a policy spec must be a JSON object")
    if "stages" not in spec:
        return _single_from_spec(spec)
    _check_schema(spec, "")
    if extra := sorted(set(spec) - {"stages", "schema"}):
        raise PolicyError(extra[0], spec[extra[0]], "a composite spec holds only 'stages'")
    raw = spec["stages"]
    if not isinstance(raw, list | tuple) or not raw:
        raise PolicyError("stages", raw, "must be a non-empty list of stages")
    stages: list[Stage] = []
    previous = 0
    for i, entry in enumerate(raw):
        field = f"stages[{i}]."
        if not isinstance(entry, Mapping):
            raise PolicyError(
                f"stages[{i}]", entry, "must be an object with 'policy' (and 'until')"
            )
        if extra := sorted(set(entry) - {"policy", "until"}):
            raise PolicyError(f"{field}{extra[0]}", entry[extra[0]], "unknown stage field")
        if "policy" not in entry:
            raise PolicyError(f"{field}policy", MISSING, "missing")
        inner = entry["policy"]
        if isinstance(inner, Mapping) and "stages" in inner:
            raise PolicyError(f"{field}policy", inner, "stages cannot be nested")
        policy = _single_from_spec(inner, f"{field}policy.")
        last = i == len(raw) - 1
        until = entry.get("until")
        if last:
            if until is not None:
                raise PolicyError(
                    f"{field}until", until, "the last stage has no 'until' (it runs to the end)"
                )
        else:
            if until is None:
                raise PolicyError(
                    f"{field}until", MISSING, "missing; every stage but the last ends"
                )
            until = _integer(f"{field}until", until)
            if until <= previous:
                raise PolicyError(
                    f"{field}until",
                    until,
                    f"stage boundaries must be strictly increasing (previous: {previous})",
                )
            previous = until
        stages.append(Stage(policy, until))
    if len(stages) == 1:  # a one-stage composite is its inner policy
        return stages[0].policy
    return Composite(stages)


def compose(parts: Sequence[tuple[Any, int | None]]) -> Policy:
    """Join (policy or spec, until) pairs into one policy; the last `until` must be None.

    Joining composites flattens them: a composite part keeps its own boundaries, shifted
    to start where the part starts (so presets combine with other stages).
    """
    stages: list[dict[str, Any]] = []
    start = 0
    for i, (part, until) in enumerate(parts):
        pol = from_spec(part)
        for s in pol.stages:
            inner_until = None if s.until is None else start + s.until
            if until is not None and inner_until is not None and inner_until >= until:
                break  # the part is cut at its own `until`
            stages.append({"policy": s.policy.to_spec(), "until": inner_until})
        stages[-1]["until"] = until
        if until is None and i != len(parts) - 1:
            raise PolicyError(f"parts[{i}].until", None, "only the last part may run to the end")
        start = until if until is not None else start
    for s in stages:
        if s["until"] is None:
            del s["until"]
    return from_spec({"stages": stages})


def spec_hash(spec: Any) -> str:
    """Canonical SHA-256 (hex) of a spec; equal for specs describing the same policy."""
    return from_spec(spec).hash


def canonical_spec(spec: Any) -> dict[str, Any]:
    """The canonical form of a spec (validated)."""
    return from_spec(spec).to_spec()
