"""`workbench lab`: JupyterLab on the notebooks folder, with this interpreter as the kernel.

The notebooks name the kernel `python3`. Jupyter looks kernels up on JUPYTER_PATH first,
so a `python3` kernel spec written under the store root and put first on that path makes
every notebook run on the interpreter that has the workbench installed, whatever other
`python3` kernels the user has.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from workbench.cli import add_common, print_json
from workbench.errors import BadInput
from workbench.paths import store_root

KERNEL_NAME = "python3"
# JupyterLab's news and update checks: a pop-up that covers notebooks (and screenshots).
NOTIFICATION_SETTINGS = ("@jupyterlab/apputils-extension", "notification.jupyterlab-settings")


def notebooks_dir() -> Path:
    """The checkout's `notebooks/` folder."""
    return Path(__file__).resolve().parent.parent.parent / "notebooks"


def write_kernel_spec(root: Path, env: dict[str, str] | None = None) -> Path:
    """Write a `python3` kernel spec for this interpreter under `root/kernels/`; returns its dir."""
    kdir = root / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True, exist_ok=True)
    spec: dict[str, Any] = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (LR Workbench)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    if env:
        spec["env"] = env
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return kdir


def write_quiet_settings(settings_dir: Path) -> Path:
    """User settings that turn off JupyterLab's news pop-up and update checks."""
    path = settings_dir.joinpath(*NOTIFICATION_SETTINGS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return path


def lab_command(
    notebook_dir: Path,
    *,
    ip: str = "127.0.0.1",
    port: int | None = None,
    token: str | None = None,
    open_browser: bool = True,
    settings_dir: Path | None = None,
    workspaces_dir: Path | None = None,
) -> list[str]:
    """The `jupyter lab` command line (run it with `lab_env`)."""
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        f"--ServerApp.root_dir={notebook_dir}",
        f"--ServerApp.ip={ip}",
        f"--MultiKernelManager.default_kernel_name={KERNEL_NAME}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI run as root; Jupyter refuses without
    if port is not None:
        cmd += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    if not open_browser:
        cmd.append("--no-browser")
    if settings_dir is not None:
        cmd.append(f"--LabApp.user_settings_dir={settings_dir}")
    if workspaces_dir is not None:
        cmd.append(f"--LabApp.workspaces_dir={workspaces_dir}")
    return cmd


def lab_env(jupyter_root: Path, db_url: str | None = None) -> dict[str, str]:
    """The environment for `jupyter lab`: our kernel first on JUPYTER_PATH, the store URL."""
    env = dict(os.environ)
    write_kernel_spec(jupyter_root)
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(jupyter_root), env.get("JUPYTER_PATH", "")) if p
    )
    if db_url:
        env["WORKBENCH_DB_URL"] = db_url
    return env


def _lab(args: argparse.Namespace) -> int:
    nb_dir = Path(args.notebooks).resolve() if args.notebooks else notebooks_dir()
    if not nb_dir.is_dir():
        raise BadInput(f"notebooks folder {str(nb_dir)!r} not found")
    jupyter_root = store_root() / "jupyter"
    settings = None
    if args.quiet:
        settings = jupyter_root / "lab-settings"
        write_quiet_settings(settings)
    cmd = lab_command(
        nb_dir, ip=args.ip, port=args.port, token=args.token,
        open_browser=not args.no_browser, settings_dir=settings,
    )  # fmt: skip
    env = lab_env(jupyter_root, args.db)
    if args.dry_run:
        info = {"command": cmd, "JUPYTER_PATH": env["JUPYTER_PATH"], "kernel": KERNEL_NAME}
        if args.json:
            print_json(info)
        else:
            print(shlex.join(cmd))
        return 0
    return subprocess.call(cmd, env=env)


def register(subparsers: Any) -> None:
    """Add `workbench lab`."""
    p = subparsers.add_parser(
        "lab",
        help="open JupyterLab on the notebooks folder",
        description="Open JupyterLab on the notebooks folder with this interpreter as the kernel.",
    )
    add_common(p)
    p.add_argument("--notebooks", metavar="DIR", help="notebooks folder (default: the checkout's)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--token", default=None, help="access token (default: Jupyter makes one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument(
        "--news", dest="quiet", action="store_false", help="keep JupyterLab's news pop-up"
    )
    p.add_argument("--dry-run", action="store_true", help="print the command instead")
    p.set_defaults(func=_lab)
