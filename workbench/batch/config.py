"""Sweep configuration files: YAML validated with pydantic, errors naming key and line.

A sweep file::

    name: mnist1d-smoke            # identifies the sweep (part of every job id)
    notebook: ../notebooks/train_run.ipynb   # relative to this file (or the checkout)
    parameters: {dataset: mnist1d, budget: 300}   # the same for every job
    grid:                          # Cartesian product; a list of grids is their union
      seed: [0, 1]
      policy: [{function: FIX, k0: 0.05}, {function: COS, k0: 0.0, k1: 0.1, l: 300}]
    cases:                         # explicit parameter sets, each crossed with the grid
      - {optimizer: {name: sgd}}
      - {optimizer: {name: momentum, momentum: 0.9}}
    max_attempts: 3                # tries per job when a worker dies under it
    timeout: 3600                  # seconds per job (null: none)
    gpus_per_job: 0                # 1 on a GPU box: one job per device

Unknown keys and bad values fail before any job starts, with `file:line: key: problem`.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.errors import BadInput

# A key is a path through the YAML document: mapping keys and list indices.
Loc = tuple[str | int, ...]


class SweepConfig(BaseModel):
    """A validated sweep file (see the module docstring for the fields)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    notebook: str = Field(min_length=1)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] | list[dict[str, list[Any]]] = Field(default_factory=dict)
    cases: list[dict[str, Any]] = Field(default_factory=list)
    max_attempts: int = Field(default=3, ge=1, le=20)
    timeout: float | None = Field(default=None, gt=0)
    gpus_per_job: int = Field(default=0, ge=0, le=1)
    kernel: str | None = None

    def grids(self) -> list[dict[str, list[Any]]]:
        """The grid as a list of grids (a single grid is a list of one)."""
        return list(self.grid) if isinstance(self.grid, list) else [self.grid]

    def expand(self) -> list[dict[str, Any]]:
        """Every job's parameters: fixed ∪ case ∪ grid point, in a stable order."""
        points: list[dict[str, Any]] = []
        for grid in self.grids() or [{}]:
            keys = sorted(grid)
            for values in itertools.product(*(grid[k] for k in keys)):
                points.append(dict(zip(keys, values, strict=True)))
        jobs = []
        for case in self.cases or [{}]:
            for point in points or [{}]:
                jobs.append({**self.parameters, **case, **point})
        return jobs

    def parameter_sources(self) -> dict[str, Loc]:
        """For each parameter name, where in the file it is first set (for error lines)."""
        out: dict[str, Loc] = {}
        for key in self.parameters:
            out.setdefault(key, ("parameters", key))
        for i, case in enumerate(self.cases):
            for key in case:
                out.setdefault(key, ("cases", i, key))
        if isinstance(self.grid, list):
            for i, g in enumerate(self.grid):
                for key in g:
                    out.setdefault(key, ("grid", i, key))
        else:
            for key in self.grid:
                out.setdefault(key, ("grid", key))
        return out


class LoadedSweep(BaseModel):
    """A sweep file as loaded: its config, its path, and the line of every key."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: SweepConfig
    path: Path
    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int | None:
        """The 1-based line of `loc`, or of its nearest enclosing key known."""
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)

    def error(self, loc: Loc, message: str) -> BadInput:
        """A `BadInput` reading `file:line: key: message`."""
        return BadInput(_format(self.path, self.line_of(loc), loc, message))


def _key_lines(node: yaml.Node, loc: Loc, out: dict[Loc, int]) -> None:
    """Record the line of every key (its key node) and list item in a composed YAML tree."""
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*loc, key_node.value)
            out[child] = key_node.start_mark.line + 1
            _key_lines(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _key_lines(item, (*loc, i), out)


def _format(path: Path, line: int | None, loc: Loc, message: str) -> str:
    where = f"{path}:{line}" if line else str(path)
    key = ".".join(str(p) for p in loc) if loc else "(top level)"
    return f"{where}: {key}: {message}"


def load_sweep(path: str | Path) -> LoadedSweep:
    """Read and validate a sweep file; `BadInput` names the file, line and key of a problem."""
    path = Path(path).resolve()
    if not path.is_file():
        raise BadInput(f"sweep config {str(path)!r} not found")
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise BadInput(_format(path, line, (), f"not valid YAML ({exc})")) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _key_lines(node, (), lines)
    if not isinstance(data, dict):
        raise BadInput(_format(path, 1, (), "a sweep file is a mapping of keys (name, notebook…)"))
    try:
        config = SweepConfig.model_validate(data)
    except ValidationError as exc:
        loaded = LoadedSweep.model_construct(config=None, path=path, lines=lines)
        raise BadInput(_validation_message(loaded, exc)) from None
    loaded = LoadedSweep(config=config, path=path, lines=lines)
    for loc, values in _grid_lists(config):
        if not values:
            raise loaded.error(loc, "an empty list of values (the grid would have no jobs)")
    return loaded


def _grid_lists(config: SweepConfig) -> list[tuple[Loc, list[Any]]]:
    if isinstance(config.grid, list):
        return [(("grid", i, k), v) for i, g in enumerate(config.grid) for k, v in g.items()]
    return [(("grid", k), v) for k, v in config.grid.items()]


def _validation_message(loaded: LoadedSweep, exc: ValidationError) -> str:
    """One line per pydantic error, each with its file line and key path."""
    known = {p for loc in loaded.lines for p in loc}
    errors = []
    for err in exc.errors():
        # pydantic adds union branch names ("list[…]") to the location: keep only real keys
        loc = tuple(p for p in err["loc"] if isinstance(p, int) or p in known)
        text = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        errors.append((loc, text))
    # A union reports every branch; the deepest locations are the ones that point at the
    # actual mistake, so drop errors about an enclosing key when a nested one exists.
    locs = [loc for loc, _ in errors]
    msgs = [
        _format(loaded.path, loaded.line_of(loc), loc, text)
        for loc, text in errors
        if not any(other[: len(loc)] == loc and len(other) > len(loc) for other in locs)
    ]
    return "\n".join(dict.fromkeys(msgs))
