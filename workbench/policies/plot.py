"""Plots of policies (matplotlib, imported lazily so `policies` loads without it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.policies.functions import FAMILIES, by_family
from workbench.policies.policy import Composite, Policy, from_spec


def pyplot() -> Any:
    """matplotlib.pyplot, on the Agg backend unless running inside IPython."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg",) and not _interactive():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _interactive() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None
    except ImportError:
        return False


def draw_policy(
    ax: Any, policy: Policy | dict, budget: int, *, label: str | None = None, log: bool = False
) -> Any:
    """Draw the LR of `policy` over `budget` iterations on `ax`, stage boundaries dashed."""
    pol = from_spec(policy)
    lrs = pol.values(budget)
    (line,) = ax.plot(np.arange(budget), lrs, label=label or pol.text[:60])
    if isinstance(pol, Composite):
        for b in pol.boundaries:
            if b < budget:
                ax.axvline(b, color=line.get_color(), linestyle="--", linewidth=0.8, alpha=0.6)
    if log:
        ax.set_yscale("symlog", linthresh=max(1e-8, float(lrs[lrs > 0].min(initial=1e-8))))
    ax.set_xlabel("iteration")
    ax.set_ylabel("learning rate")
    return line


def plot_policies(
    policies: Sequence[Policy | dict],
    budget: int,
    path: str | Path | None = None,
    *,
    labels: Sequence[str] | None = None,
    log: bool = False,
    title: str | None = None,
) -> Any:
    """One figure with the given policies overlaid; saved as PNG when `path` is given."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, p in enumerate(policies):
        draw_policy(ax, p, budget, label=labels[i] if labels else None, log=log)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def plot_families(path: str | Path, budget: int = 1000) -> Path:
    """The paper's catalogue: every LR function, one panel per family, saved as PNG."""
    from workbench.policies.catalog import example_spec

    plt = pyplot()
    groups = by_family()
    fig, axes = plt.subplots(len(FAMILIES), 1, figsize=(10, 3.2 * len(FAMILIES)))
    for ax, family in zip(axes, FAMILIES, strict=True):
        for name in groups[family]:
            draw_policy(ax, example_spec(name, budget), budget, label=name)
        ax.set_title(f"{family} ({len(groups[family])} functions)")
        ax.legend(fontsize=6, ncol=4)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
