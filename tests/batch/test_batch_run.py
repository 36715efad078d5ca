"""`workbench batch run`: one notebook job, recorded and linked to its run."""

from __future__ import annotations

from pathlib import Path

import nbformat

from tests.batch.helpers import FIXTURES, RECORD_JOB, main_err, main_json, runs_by_job
from workbench.batch.notebook import parse_pairs, parse_value
from workbench.store import open_store


def test_values_are_json_else_strings() -> None:
    assert parse_value("3") == 3
    assert parse_value("0.5") == 0.5
    assert parse_value("true") is True
    assert parse_value("null") is None
    assert parse_value('{"function": "FIX", "k0": 0.1}') == {"function": "FIX", "k0": 0.1}
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("mnist1d") == "mnist1d"
    assert parse_pairs([("a", "1"), ("b", "x y")]) == {"a": 1, "b": "x y"}


def test_job_records_run_and_executed_notebook(
    capsys, sqlite_url: str, _isolated_store: Path
) -> None:
    args = ("batch", "run", str(RECORD_JOB), "-p", "seed", "7", "-p", "lr", "0.2")
    row = main_json(capsys, *args, "--db", sqlite_url)
    assert row["status"] == "done" and row["sweep"] is None and row["attempts"] == 1
    out = Path(row["output"])
    assert out == _isolated_store / "runs" / "adhoc" / f"{row['job_id']}.ipynb"
    nb = nbformat.read(out, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "seed = 7" in injected.source and f'job_id = "{row["job_id"]}"' in injected.source
    assert sqlite_url not in injected.source  # the URL goes by environment, never in a file
    # The job row links to the run the notebook recorded, and the run to the job.
    assert runs_by_job(sqlite_url) == {row["job_id"]: row["run_ids"]}
    store = open_store(sqlite_url)
    assert store.job(row["job_id"])["status"] == "done"
    assert store.run(row["run_ids"][0], points=False)["spec"]["policy"]["k0"] == 0.2
    # The same job again replaces its run rather than adding one.
    again = main_json(capsys, *args, "--db", sqlite_url)
    assert again["job_id"] == row["job_id"] and again["attempts"] == 2
    assert list(runs_by_job(sqlite_url)) == [row["job_id"]]
    assert len(runs_by_job(sqlite_url)[row["job_id"]]) == 1


def test_failing_notebook_keeps_its_copy_and_error(capsys, sqlite_url: str) -> None:
    args = ("batch", "run", str(RECORD_JOB), "-p", "fail", "true", "--db", sqlite_url)
    row = main_json(capsys, *args, ok=(1,))
    assert row["status"] == "failed"
    assert "RuntimeError: asked to fail" in row["error"]
    nb = nbformat.read(row["output"], as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in nb.cells for o in c.get("outputs", []))
    assert open_store(sqlite_url).job(row["job_id"])["status"] == "failed"


def test_unknown_parameter_is_rejected_with_the_accepted_list(capsys, sqlite_url: str) -> None:
    code, err = main_err(
        capsys, "batch", "run", str(RECORD_JOB), "-p", "learning_rate", "0.1", "--db", sqlite_url
    )
    assert code == 2
    assert "no parameter 'learning_rate'" in err
    assert "accepted parameters: seed, lr, sleep, fail, die" in err
    code, err = main_err(capsys, "batch", "run", str(RECORD_JOB), "-p", "job_id", "x")
    assert code == 2 and "set by the batch runner" in err


def test_notebook_without_parameters_cell_is_rejected(capsys, sqlite_url: str) -> None:
    notebook = str(FIXTURES / "no_parameters.ipynb")
    code, err = main_err(capsys, "batch", "run", notebook, "-p", "a", "1", "--db", sqlite_url)
    assert code == 2
    assert "no cell tagged 'parameters'" in err


def test_unreachable_database_fails_fast(capsys) -> None:
    # Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:9/none"
    code, err = main_err(capsys, "batch", "run", str(RECORD_JOB), "--db", url)
    assert code == 2
    assert "cannot open database" in err and "secret" not in err
