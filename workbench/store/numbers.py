"""Non-finite floats stored faithfully: a value column plus a small kind column (like optuna).

SQLite turns NaN into NULL and PostgreSQL and SQLite disagree on infinities, so the value
column holds only finite numbers (or NULL) and `<name>_kind` says what the value really is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

FINITE = 0  # the value column is the number, or NULL for a missing value
NAN = 1
POS_INF = 2
NEG_INF = 3

_JOIN = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}


def to_float(x: Any) -> float | None:
    """`x` as a Python float (numpy/torch scalars included); None stays None."""
    if x is None:
        return None
    if hasattr(x, "item") and callable(x.item):
        x = x.item()
    if isinstance(x, str):
        from workbench.jsonio import decode_nonfinite

        x = decode_nonfinite(x)
    return float(x)


def split(x: Any) -> tuple[float | None, int]:
    """(value, kind) for storing `x`: non-finite values become (None, kind)."""
    t = type(x)
    v = float(x) if t is float or t is int else to_float(x)
    if v is None or v - v == 0.0:  # finite (inf - inf and nan - nan are nan)
        return v, FINITE
    if math.isnan(v):
        return None, NAN
    return None, POS_INF if v > 0 else NEG_INF


def join(value: float | None, kind: int | None) -> float | None:
    """The float a (value, kind) pair stands for; None for a missing value."""
    if kind:
        return _JOIN[int(kind)]
    return None if value is None else float(value)


def split_into(row: dict[str, Any], source: Mapping[str, Any], names: Iterable[str]) -> None:
    """Set `row[name]` and `row[name + '_kind']` for every name, from `source`."""
    for name in names:
        row[name], row[f"{name}_kind"] = split(source.get(name))


def join_from(row: Mapping[str, Any], names: Iterable[str]) -> dict[str, float | None]:
    """The floats of `names` read back from a row holding value and kind columns."""
    return {name: join(row[name], row[f"{name}_kind"]) for name in names}
