"""Sweep files: expansion, stable job ids, and errors that name the key and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.batch.helpers import RECORD_JOB, cli, write_sweep
from workbench.batch import plan_sweep
from workbench.batch.config import load_sweep
from workbench.errors import BadInput


def _error(path: Path) -> str:
    with pytest.raises(BadInput) as info:
        plan_sweep(path, db="sqlite:////tmp/unused.sqlite")
    return str(info.value)


def test_grid_and_cases_expand_with_stable_ids(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "grid",
        """
        parameters: {lr: 0.1}
        grid:
          seed: [0, 1]
          sleep: [0.0, 0.5]
        cases:
          - {fail: false}
          - {fail: true, lr: 0.2}
    """,
    )
    plan = plan_sweep(path, db="sqlite:////tmp/unused.sqlite")
    params = [p["parameters"] for p in plan.payloads]
    assert len(params) == 8
    assert params[0] == {"lr": 0.1, "fail": False, "seed": 0, "sleep": 0.0}
    assert {p["lr"] for p in params if p["fail"]} == {0.2}
    assert len(set(plan.job_ids)) == 8
    # Ids depend only on (sweep name, notebook, parameters): same file, same ids.
    assert plan_sweep(path, db="sqlite:////tmp/other.sqlite").job_ids == plan.job_ids
    renamed = write_sweep(tmp_path, "grid2", path.read_text().split("\n", 2)[2])
    assert set(plan_sweep(renamed, db="sqlite:////tmp/x.sqlite").job_ids).isdisjoint(plan.job_ids)
    # The store URL travels with every job, absolute whatever the caller's cwd.
    relative = plan_sweep(path, db="sqlite:///rel/wb.sqlite").payloads[0]["db_url"]
    assert relative == f"sqlite:///{Path.cwd() / 'rel' / 'wb.sqlite'}"
    # Executed notebooks go under runs/<sweep>/<job_id>.ipynb.
    assert plan.payloads[0]["output"].endswith(f"runs/grid/{plan.job_ids[0]}.ipynb")


def test_list_of_grids_is_their_union(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "union",
        """
        grid:
          - {seed: [0, 1]}
          - {seed: [5], lr: [0.3]}
    """,
    )
    params = [p["parameters"] for p in plan_sweep(path, db="sqlite:////tmp/u.sqlite").payloads]
    assert params == [{"seed": 0}, {"seed": 1}, {"lr": 0.3, "seed": 5}]


def test_unknown_key_names_key_and_line(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "bad",
        """
        grid:
          seed: [0, 1]
        max_atempts: 3
    """,
    )
    msg = _error(path)
    assert f"{path}:5: max_atempts: unknown key" in msg


def test_bad_value_names_key_and_line(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "bad",
        """
        parameters:
          lr: 0.1
        max_attempts: 0
        timeout: -5
    """,
    )
    msg = _error(path)
    assert f"{path}:5: max_attempts:" in msg and "greater than or equal to 1" in msg
    assert f"{path}:6: timeout:" in msg


def test_grid_values_must_be_lists(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "bad",
        """
        grid:
          seed: [0]
          lr: 0.1
    """,
    )
    assert f"{path}:5: grid.lr: Input should be a valid list" in _error(path)


def test_empty_grid_list_names_its_line(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "bad",
        """
        grid:
          seed: []
    """,
    )
    assert f"{path}:4: grid.seed: an empty list" in _error(path)


def test_unknown_parameter_lists_accepted_ones(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "bad",
        """
        cases:
          - {seed: 1}
          - {learning_rate: 0.1}
    """,
    )
    msg = _error(path)
    assert f"{path}:5: cases.1.learning_rate: notebook record_job.ipynb has no parameter" in msg
    assert "accepted parameters: seed, lr, sleep, fail, die" in msg


def test_runner_parameters_are_reserved(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "bad",
        """
        parameters: {job_id: abc}
    """,
    )
    assert f"{path}:3: parameters.job_id: set by the batch runner" in _error(path)


def test_missing_notebook_and_bad_yaml(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "bad", "", notebook=tmp_path / "nope.ipynb")
    assert f"{path}:2: notebook: notebook" in _error(path)
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"name: x\nnotebook: {RECORD_JOB}\ngrid: {{seed: [0, 1]\n")
    with pytest.raises(BadInput, match="not valid YAML"):
        load_sweep(broken)


def test_cli_config_error_exits_2_before_any_job(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "bad",
        """
        grid:
          sed: [0, 1]
    """,
    )
    proc = cli("sweep", "run", str(path), timeout=60)
    assert proc.returncode == 2
    assert f"{path}:4: grid.sed" in proc.stderr
    assert "job(s) to run" not in proc.stderr
