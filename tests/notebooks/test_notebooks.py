"""Every notebook: stored clean, well-formed parameters, and executes under papermill."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from workbench.commands.lab import notebooks_dir, write_kernel_spec

NB_DIR = notebooks_dir()
NOTEBOOKS = sorted(p.name for p in NB_DIR.glob("[0-9][0-9]_*.ipynb"))
RUN_FIELDS = ("dataset", "model", "optimizer", "policy", "batch_size", "budget", "eval_every",
              "seed", "target")  # fmt: skip
BATCH = ("04_train_run.ipynb", "05_verify_policy.ipynb", "06_recommend.ipynb",
         "07_paper_tables.ipynb")  # fmt: skip
# Tiny runs: a synthetic 1-D dataset and an MLP, a few dozen iterations.
SMALL: dict[str, Any] = {
    "dataset": "synthetic", "model": "mlp",
    "optimizer": {"name": "momentum", "momentum": 0.9, "weight_decay": 0.0005},
    "policy": {"function": "FIX", "k0": 0.05}, "batch_size": 32, "budget": 60,
    "eval_every": 10, "seed": 0, "target": 0.3,
}  # fmt: skip


def _params(name: str, tmp: Path) -> dict[str, Any]:
    return {
        "01_compose_policies.ipynb": {"budget": 300},
        "02_train_and_watch.ipynb": {**SMALL, "start": True},
        "03_browse_results.ipynb": {"function": "FIX"},
        "04_train_run.ipynb": SMALL,
        "05_verify_policy.ipynb": SMALL,
        "06_recommend.ipynb": {**SMALL, "budget": 160, "eval_every": 20},
        "07_paper_tables.ipynb": {"out_dir": str(tmp / "report"), "catalogue_budget": 200},
    }[name]


def _parameter_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]


def _assignments(source: str) -> dict[str, Any]:
    out = {}
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.dump(node)
        out[node.targets[0].id] = ast.literal_eval(node.value)  # plain literals only
    return out


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_clean_with_one_literal_parameters_cell(name: str) -> None:
    nb = nbformat.read(NB_DIR / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name} has outputs"
    cells = _parameter_cells(nb)
    assert len(cells) == 1, f"{name}: exactly one cell tagged 'parameters'"
    params = _assignments(cells[0].source)
    if name in BATCH[:3]:
        assert set(RUN_FIELDS) <= set(params), f"{name} must mirror the run spec's fields"
        assert isinstance(params["optimizer"], dict) and isinstance(params["policy"], dict)
    assert "db_url" in params
    assert nb.metadata["kernelspec"]["name"] == "python3"
    # Notebooks import the library; they define no functions or classes of their own.
    for cell in nb.cells:
        if cell.cell_type == "code":
            tree = ast.parse(cell.source)
            assert not [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]


def test_readme_lists_every_notebook() -> None:
    readme = (NB_DIR / "README.md").read_text()
    for name in NOTEBOOKS:
        assert f"`{name}`" in readme, name
    assert sorted(set(NOTEBOOKS)) == NOTEBOOKS and len(NOTEBOOKS) >= 7


FIRST = ("01_compose_policies.ipynb", "02_train_and_watch.ipynb", *BATCH[:3])
WORKERS = 3  # notebooks wait on kernels and I/O much of the time; 3 at once suits 2 cores


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory, shared_data_root: Path) -> dict[str, Any]:
    """Run every notebook under papermill (its CLI, several at once): name → Execution.

    The notebooks that write runs go first; the results browser and the report then read
    the same store, passed to every notebook as `db_url`.
    """
    pytest.importorskip("papermill")
    base = tmp_path_factory.mktemp("notebooks")
    db_url = f"sqlite:///{base / 'nb.db'}"
    write_kernel_spec(base / "jupyter")
    env = {
        **os.environ, "WORKBENCH_HOME": str(base / "home"), "WORKBENCH_DATA": str(shared_data_root),
        "JUPYTER_PATH": str(base / "jupyter"), "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",  # several kernels at once: no thread oversubscription
    }  # fmt: skip
    env.pop("WORKBENCH_DB_URL", None)
    results: dict[str, Any] = {}
    second = [n for n in NOTEBOOKS if n not in FIRST]
    for group in ([n for n in NOTEBOOKS if n in FIRST], second):
        running: list[Execution] = []
        for name in group:
            while len([r for r in running if r.proc.poll() is None]) >= WORKERS:
                time.sleep(0.2)
            running.append(Execution.start(name, base, db_url, env))
        for run in running:
            results[run.name] = run.finish()
    results["_db_url"] = db_url
    return results


class Execution:
    """One papermill process: its output notebook, log and exit status."""

    def __init__(self, name: str, cmd: list[str], out: Path, env: dict[str, str]) -> None:
        self.name, self.cmd, self.out, self.env = name, cmd, out, env
        self.log = out.parent / "papermill.log"
        self.killed: list[str] = []  # log tails of attempts killed by a signal
        self.returncode: int | None = None
        self.proc = self._spawn()

    @classmethod
    def start(cls, name: str, base: Path, db_url: str, env: dict[str, str]) -> Execution:
        work = base / name.removesuffix(".ipynb")
        work.mkdir()
        params = {**_params(name, work), "db_url": db_url}
        out = work / name
        # -X faulthandler: a crash in the kernel transport prints a traceback, not nothing.
        cmd = [sys.executable, "-X", "faulthandler", "-m", "papermill", str(NB_DIR / name),
               str(out), "-y", json.dumps(params), "-k", "python3", "--cwd", str(work),
               "--no-progress-bar"]  # fmt: skip
        return cls(name, cmd, out, env)

    def _spawn(self) -> subprocess.Popen:
        with self.log.open("w") as f:
            return subprocess.Popen(self.cmd, env=self.env, stdout=f, stderr=subprocess.STDOUT)

    def finish(self) -> Execution:
        """Wait for the end. A run killed by a signal from outside (a failure of the host,
        not of the notebook) runs once more; its log stays in the failure message."""
        self.returncode = self.proc.wait()
        if self.returncode < 0 and not self.killed:
            self.killed.append(f"signal {-self.returncode}: {self.log.read_text()[-1500:]}")
            self.proc = self._spawn()
            self.returncode = self.proc.wait()
        return self

    def describe(self) -> str:
        """What a failure message needs: exit status, killed attempts, the log's tail."""
        tail = self.log.read_text()[-3000:]
        return f"papermill exit status {self.returncode}; killed attempts: {self.killed}\n{tail}"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name: str, executed: dict[str, Any]) -> None:
    run = executed[name]
    assert run.returncode == 0 and run.out.is_file(), run.describe()
    nb = nbformat.read(run.out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]  # fmt: skip
    assert not errors, "\n".join("\n".join(e.get("traceback", [])) for e in errors)[-3000:]
    # Every cell ran to its end (papermill's first write of the output has none run).
    states = [c.metadata.get("papermill", {}).get("status") for c in nb.cells]
    assert states == ["completed"] * len(nb.cells), f"{states}\n{run.describe()}"
    _check_effects(name, run.out.parent, executed["_db_url"], nb)


def _text(nb: Any) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def _check_effects(name: str, tmp: Path, db_url: str, nb: Any) -> None:
    from workbench.store import open_store

    store = open_store(db_url)
    if name == "04_train_run.ipynb":
        runs = store.runs(kind="train")
        assert (runs["budget"] == 60).any() and set(runs["status"]) <= {"completed", "stopped"}
    elif name == "05_verify_policy.ipynb":
        assert len(store.runs(kind="verify")) >= 1 and "verdict" in _text(nb)
    elif name == "06_recommend.ipynb":
        assert "recommended" in _text(nb)
    elif name == "02_train_and_watch.ipynb":
        assert "status" in _text(nb)
    elif name == "03_browse_results.ipynb":
        assert "FIX(k0=0.05)" in _text(nb)
    elif name == "07_paper_tables.ipynb":
        report = tmp / "report"
        assert (report / "table1.csv").is_file() and (report / "table1_catalogue.png").is_file()
        assert "Missing from the store" in (report / "paper_tables.md").read_text()
    elif name == "01_compose_policies.ipynb":
        assert "TRI(k0=0.001" in _text(nb)
