"""`workbench lab`: JupyterLab on the notebooks folder with this interpreter's kernel."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.commands.lab import notebooks_dir, write_quiet_settings


def test_dry_run_names_the_folder_loopback_and_our_kernel(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["lab", "--dry-run", "--json", "--db", "sqlite:////tmp/x.db"]) == 0
    info = json.loads(capsys.readouterr().out)
    cmd = info["command"]
    assert cmd[:4] == [sys.executable, "-m", "jupyter", "lab"]
    assert f"--ServerApp.root_dir={notebooks_dir()}" in cmd
    assert "--ServerApp.ip=127.0.0.1" in cmd
    assert "--MultiKernelManager.default_kernel_name=python3" in cmd
    assert any(a.startswith("--LabApp.user_settings_dir=") for a in cmd)  # news pop-up off
    first = Path(info["JUPYTER_PATH"].split(os.pathsep)[0])
    spec = json.loads((first / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable  # notebooks run where workbench is installed


def test_news_can_be_kept_and_bad_folders_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "--dry-run", "--json", "--news", "--port", "8899", "--no-browser"]) == 0
    cmd = json.loads(capsys.readouterr().out)["command"]
    assert not any("user_settings_dir" in a for a in cmd)
    assert "--ServerApp.port=8899" in cmd and "--no-browser" in cmd
    assert main(["lab", "--dry-run", "--notebooks", "/no/such/folder"]) == 2
    assert "not found" in capsys.readouterr().err


def test_quiet_settings_turn_news_and_update_checks_off(tmp_path: Path) -> None:
    path = write_quiet_settings(tmp_path)
    assert path.relative_to(tmp_path).parts == (
        "@jupyterlab", "apputils-extension", "notification.jupyterlab-settings",
    )  # fmt: skip
    assert json.loads(path.read_text()) == {"fetchNews": "false", "checkForUpdates": False}
