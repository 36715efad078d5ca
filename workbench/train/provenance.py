"""Provenance of a run: versions, device, seed, git revision, host."""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

PACKAGES = (
    "lr-workbench",
    "torch",
    "torchvision",
    "numpy",
    "mnist1d",
    "schedulefree",
    "scikit-learn",
)


@functools.cache
def versions() -> dict[str, str | None]:
    """Python and package versions."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@functools.cache
def git_revision() -> str | None:
    """The checkout's commit (with "-dirty" when it has changes), or None outside git."""
    root = Path(__file__).resolve().parent.parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("-dirty" if dirty.strip() else "") if rev else None


def device_name(device: torch.device) -> str:
    """A readable name of the device."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


def provenance(device: torch.device, seed: int, threads: int) -> dict[str, Any]:
    """The provenance dict recorded with every run."""
    return {
        "versions": versions(),
        "device": str(device),
        "device_name": device_name(device),
        "threads": threads,
        "seed": seed,
        "git_revision": git_revision(),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
    }
