"""Helpers for the batch tests: sweep files, the CLI in a subprocess, store queries."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from workbench import jsonio

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORD_JOB = FIXTURES / "record_job.ipynb"
ROOT = Path(__file__).resolve().parents[2]


def write_sweep(folder: Path, name: str, body: str, notebook: Path = RECORD_JOB) -> Path:
    """A sweep file `name`.yaml over `notebook` with `body` (YAML) appended."""
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nnotebook: {notebook}\n" + textwrap.dedent(body).lstrip("\n"))
    return path


def cli_env(**extra: str) -> dict[str, str]:
    """The test's environment (store root, data root) for a CLI subprocess."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra})
    return env


def cli(*args: str, timeout: float = 240, **kw: Any) -> subprocess.CompletedProcess:
    """Run `workbench ARGS…` in a subprocess (its own cluster, its own interpreter)."""
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        cwd=ROOT,
        **kw,
    )


def cli_json(*args: str, ok: tuple[int, ...] = (0,), **kw: Any) -> Any:
    """Run a `--json` command and parse its stdout; assert its exit code."""
    proc = cli(*args, "--json", **kw)
    assert proc.returncode in ok, proc.stderr[-3000:]
    return jsonio.loads(proc.stdout)


def runs_by_job(url: str) -> dict[str, list[str]]:
    """{job_id: [run_id, …]} over every run in the store."""
    from workbench.store import open_store

    frame = open_store(url).runs()
    out: dict[str, list[str]] = {}
    for run_id, job_id in zip(frame["run_id"], frame["job_id"], strict=True):
        out.setdefault(job_id, []).append(run_id)
    return out


def main_json(capsys: Any, *args: str, ok: tuple[int, ...] = (0,)) -> Any:
    """Run `workbench ARGS… --json` in this process (no interpreter start-up); parse stdout."""
    from workbench.cli import main

    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr()
    assert code in ok, out.err[-3000:]
    return jsonio.loads(out.out)


def main_err(capsys: Any, *args: str) -> tuple[int, str]:
    """Run `workbench ARGS…` in this process; (exit code, stderr)."""
    from workbench.cli import main

    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().err
