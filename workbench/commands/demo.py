"""`workbench demo`: the README's main job.

Until the recommender lands, the demo shows the policy library: it plots every LRBench
function by family and the modern presets to `store/plots/`.
"""

from __future__ import annotations

import argparse

from workbench.cli import add_common
from workbench.paths import store_path
from workbench.policies import one_cycle, sgdr, warmup_cosine, wsd
from workbench.policies.plot import plot_families, plot_policies


def _demo(args: argparse.Namespace) -> int:
    budget = 3000
    families = plot_families(store_path("plots", "lr-functions.png"), budget)
    presets = [
        warmup_cosine(0.1, budget),
        one_cycle(0.1, budget),
        wsd(0.1, budget),
        sgdr(0.1, budget, period=300),
    ]
    labels = ["warm-up + cosine", "one-cycle", "WSD", "SGDR"]
    preset_png = store_path("plots", "presets.png")
    plot_policies(presets, budget, preset_png, labels=labels, title="presets")
    for label, p in zip(labels, presets, strict=True):
        print(f"{label:<18} {p.short_hash}  {p.text}")
    print(f"wrote {families}\nwrote {preset_png}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `workbench demo`."""
    p = sub.add_parser("demo", help="the main job on the embedded default")
    add_common(p, json_flag=False)
    p.set_defaults(func=_demo)
