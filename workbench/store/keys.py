"""Identities: task ids, policy rows, idempotency keys of recorded jobs, sweep job ids."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from workbench.errors import BadInput

TASK_FIELDS = ("dataset", "model", "optimizer", "batch_size")
# Run-spec fields that do not change what a run computes, left out of idempotency keys.
VOLATILE_SPEC_FIELDS = frozenset(
    {
        "run_id",
        "device",
        "threads",
        "data_root",
        "download",
        "progress",
        "checkpoint_every",
        "checkpoint_dir",
        "eval_batch_size",
    }
)


def _sha(obj: Any) -> str:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def _normalise(value: Any) -> Any:
    # 0.9 and 0.90, 0 and 0.0 must name the same optimizer setting.
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def task_fields(task: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical task columns from a task dict or a run spec (optimizer as dict or name)."""
    missing = [f for f in TASK_FIELDS if task.get(f) in (None, "")]
    if missing:
        raise BadInput(f"task needs {', '.join(missing)} (got keys {sorted(task)})")
    opt = task["optimizer"]
    if isinstance(opt, str):
        opt = {"name": opt}
    if not isinstance(opt, Mapping) or not opt.get("name"):
        raise BadInput(f"task optimizer must be a name or {{'name': …}}, got {opt!r}")
    settings = {k: _normalise(v) for k, v in opt.items() if k != "name"}
    try:
        batch_size = int(task["batch_size"])
    except (TypeError, ValueError):
        raise BadInput(f"task batch_size must be an integer, got {task['batch_size']!r}") from None
    return {
        "dataset": str(task["dataset"]),
        "model": str(task["model"]),
        "optimizer": str(opt["name"]),
        "optimizer_settings": settings,
        "batch_size": batch_size,
    }


def task_pattern(task: Mapping[str, Any]) -> dict[str, Any]:
    """What a task dict, run spec or partial dict asks of stored tasks.

    Keys among dataset, model, optimizer (its name), batch_size and optimizer_settings
    (the settings given, normalised); a field not given is left out. A stored task matches
    when its columns equal these and `settings_match(pattern settings, its settings)`.
    """
    out: dict[str, Any] = {}
    for name in ("dataset", "model"):
        if task.get(name) not in (None, ""):
            out[name] = str(task[name])
    opt = task.get("optimizer")
    if isinstance(opt, str) and opt:
        out["optimizer"] = opt
    elif isinstance(opt, Mapping):
        if opt.get("name"):
            out["optimizer"] = str(opt["name"])
        settings = {str(k): _normalise(v) for k, v in opt.items() if k != "name"}
        if settings:
            out["optimizer_settings"] = settings
    elif opt not in (None, ""):
        raise BadInput(f"task optimizer must be a name or {{'name': …}}, got {opt!r}")
    if task.get("batch_size") is not None:
        try:
            out["batch_size"] = int(task["batch_size"])
        except (TypeError, ValueError):
            raise BadInput(
                f"task batch_size must be an integer, got {task['batch_size']!r}"
            ) from None
    return out


def _same(a: Any, b: Any) -> bool:
    # Like ==, but True is not 1.0: a boolean setting only equals a boolean.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def settings_match(given: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    """Whether every optimizer setting given is in the stored settings, with an equal value.

    The training engine records settings with their defaults filled in, so a run spec
    naming only some settings (`{"name": "momentum", "momentum": 0.9}`) matches them.
    """
    have = {str(k): _normalise(v) for k, v in (stored or {}).items()}
    return all(k in have and _same(_normalise(v), have[k]) for k, v in given.items())


def task_id(task: Mapping[str, Any]) -> str:
    """A task's id: 32 hex digits of the SHA-256 of its canonical fields."""
    f = task_fields(task)
    return _sha(
        [f["dataset"], f["model"], f["optimizer"], f["optimizer_settings"], f["batch_size"]]
    )[:32]


def task_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """The task as a run spec states it, from its stored columns."""
    return {
        "dataset": row["dataset"],
        "model": row["model"],
        "optimizer": {"name": row["optimizer"], **(row.get("optimizer_settings") or {})},
        "batch_size": row["batch_size"],
    }


def policy_row(spec: Any, label: str | None = None) -> dict[str, Any]:
    """Column values of a policy (validated through `workbench.policies.from_spec`)."""
    from workbench.policies import from_spec

    policy = spec if hasattr(spec, "to_spec") and hasattr(spec, "hash") else from_spec(spec)
    return {
        "hash": policy.hash,
        "spec": policy.to_spec(),
        "label": label,
        "text": policy.text,
        "functions": "," + ",".join(policy.functions) + ",",
        "n_stages": len(policy.stages),
        "created_at": time.time(),
    }


def record_key(job_id: str | None, spec: Mapping[str, Any] | None) -> str | None:
    """The idempotency key of a run recorded for a job (None without a job id).

    A job re-executed produces the same runs with the same specs, so they replace their
    earlier records; distinct runs of one job (other kind, policy or seed) stay distinct.
    """
    if not job_id:
        return None
    body = {k: v for k, v in (spec or {}).items() if k not in VOLATILE_SPEC_FIELDS}
    return _sha(["job", str(job_id), body])[:40]


def job_id_for(sweep: str, notebook: str, parameters: Mapping[str, Any]) -> str:
    """Job id = hash of (sweep name, notebook, parameters) (DESIGN.md "Sweep jobs")."""
    return _sha([sweep, notebook, dict(parameters)])[:16]
