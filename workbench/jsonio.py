"""JSON with non-finite numbers written as "NaN", "Infinity", "-Infinity" (DESIGN.md).

Standard JSON has no NaN/inf; Python's json writes bare `NaN`, which other readers reject.
Diverged runs produce such values, so every JSON output and export goes through here.
"""

from __future__ import annotations

import json
import math
from typing import Any

_TO_TEXT = {math.inf: "Infinity", -math.inf: "-Infinity"}
_FROM_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def encode_nonfinite(obj: Any) -> Any:
    """A copy of `obj` (dicts, lists, tuples, scalars) with non-finite floats as strings."""
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        return _TO_TEXT.get(obj, obj)
    if isinstance(obj, dict):
        return {k: encode_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [encode_nonfinite(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return encode_nonfinite(obj.item())
    return obj


def decode_nonfinite(obj: Any, keys: set[str] | None = None) -> Any:
    """Inverse of `encode_nonfinite`: "NaN"/"Infinity"/"-Infinity" strings become floats.

    With `keys`, only values under those dict keys are converted (so a text field that
    happens to read "NaN" stays text).
    """
    if isinstance(obj, str):
        return _FROM_TEXT.get(obj, obj) if keys is None else obj
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(v, str) and (keys is None or k in keys):
                out[k] = _FROM_TEXT.get(v, v)
            else:
                out[k] = decode_nonfinite(v, keys)
        return out
    if isinstance(obj, list):
        return [decode_nonfinite(v, keys) for v in obj]
    return obj


def finite_or_none(x: Any) -> float | None:
    """`x` as a float when it is a finite number (or reads as one), else None."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def dumps(obj: Any, **kwargs: Any) -> str:
    """`json.dumps` that never writes bare NaN/Infinity."""
    return json.dumps(encode_nonfinite(obj), allow_nan=False, **kwargs)


def loads(text: str, keys: set[str] | None = None) -> Any:
    """`json.loads` that reads the non-finite strings back as floats."""
    return decode_nonfinite(json.loads(text), keys)
