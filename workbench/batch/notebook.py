"""Notebook parameters: what a batch notebook accepts, and `-p name value` parsing."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench.errors import BadInput

# Set by the batch runner, never by a user's parameters (and never part of a job's id).
# `job_id` and `sweep` are injected when the notebook declares them; the store URL is not
# (it would be written, password included, into the executed notebook): the kernel finds
# it in WORKBENCH_DB_URL, so a notebook leaves `db_url = None` and calls open_store(db_url).
# WORKBENCH_JOB_ID, WORKBENCH_SWEEP and WORKBENCH_HOME are set as well.
RESERVED = ("job_id", "db_url", "store_url", "sweep")
INJECTED = ("job_id", "sweep")


def project_root() -> Path:
    """The checkout this package runs from (where `notebooks/` and `configs/` live)."""
    return Path(__file__).resolve().parent.parent.parent


def resolve_notebook(name: str | Path, base: Path | None = None) -> Path:
    """An existing notebook path: absolute, or relative to `base`, the cwd, or the checkout."""
    path = Path(name).expanduser()
    candidates = [path] if path.is_absolute() else []
    if not path.is_absolute():
        candidates += [(base or Path.cwd()) / path, Path.cwd() / path, project_root() / path]
    for cand in candidates:
        if cand.is_file():
            return cand.resolve()
    raise BadInput(
        f"notebook {str(name)!r} not found (looked in: {', '.join(map(str, candidates))})"
    )


def notebook_key(path: Path) -> str:
    """The notebook's identity in job ids: checkout-relative when inside it, so ids are stable."""
    path = path.resolve()
    try:
        return path.relative_to(project_root()).as_posix()
    except ValueError:
        return path.as_posix()


@lru_cache(maxsize=64)
def _parameters_cached(path: str, mtime: float) -> dict[str, dict[str, Any]]:
    from papermill.inspection import _infer_parameters
    from papermill.iorw import load_notebook_node

    nb = load_notebook_node(path)  # also gives every cell a `tags` list, as papermill expects
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise BadInput(
            f"notebook {path} has no cell tagged 'parameters': a batch notebook declares its "
            "parameters as plain assignments in one such cell"
        )
    params = _infer_parameters(nb)
    return {p.name: {"type": p.inferred_type_name, "default": p.default} for p in params}


def notebook_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The notebook's parameters: name → {"type", "default"} (as written in the cell)."""
    return _parameters_cached(str(path), path.stat().st_mtime)


def check_parameters(path: Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Reject names the notebook does not declare, listing the ones it accepts."""
    accepted = notebook_parameters(path)
    unknown = [n for n in names if n not in accepted]
    if unknown:
        raise BadInput(
            f"notebook {path.name} has no parameter {', '.join(map(repr, unknown))}; "
            f"accepted parameters: {', '.join(a for a in accepted if a not in RESERVED) or '(none)'}"
        )
    return accepted


def parse_value(text: str) -> Any:
    """A `-p` value: JSON when it parses (numbers, lists, dicts, true/null), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_pairs(pairs: Iterable[tuple[str, str]] | None) -> dict[str, Any]:
    """`[(name, value), …]` from repeated `-p name value` flags into a parameter dict."""
    out: dict[str, Any] = {}
    for name, value in pairs or ():
        if not name.isidentifier():
            raise BadInput(f"-p {name!r}: a parameter name is a Python identifier")
        out[name] = parse_value(value)
    return out
