"""Where runtime output lives (DESIGN.md "Store root")."""

from __future__ import annotations

import os
from pathlib import Path


def _checkout_store() -> Path | None:
    """The `store/` folder of the checkout this package runs from, if it is one."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "workbench").is_dir():
        return root / "store"
    return None


def _user_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lr-workbench"


def store_root() -> Path:
    """`WORKBENCH_HOME` if set; else the checkout's `store/`; else a per-user data folder.

    The folder is created if missing and always returned as an absolute path, because
    paths and URLs handed to jobs and workers must not depend on their working directory.
    """
    env = os.environ.get("WORKBENCH_HOME")
    root = Path(env) if env else (_checkout_store() or _user_data_dir())
    root = root.expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def store_path(*parts: str) -> Path:
    """A path under the store root; parent folders are created."""
    path = store_root().joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def data_root() -> Path:
    """Where datasets live: `WORKBENCH_DATA` if set, else `<store root>/datasets`.

    Separate from the store root so that tests (and users with several stores) share one
    dataset cache.
    """
    env = os.environ.get("WORKBENCH_DATA")
    root = Path(env).expanduser().resolve() if env else store_root() / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    return root
