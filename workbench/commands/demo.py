"""`workbench demo`: the README's main job on the embedded default (MNIST-1D, SQLite).

Runs the paper's default policy, asks the recommender for a policy that reaches the
default's final accuracy sooner (history first, else range test → staged search), verifies
it with a fresh run, runs the modern reference points with the range test's peak, and
prints the paper-style comparison table; results go to the store, plots to store/plots/.
It also draws the LR function catalogue and the presets, as it did before.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from workbench.cli import add_common

# The embedded default task: MNIST-1D with the MNIST-1D paper's ConvBase and the LRBench
# paper's LeNet solver settings. One thread: faster than two for a model this small, and
# it leaves a core free on a laptop.
DEMO_SPEC: dict[str, Any] = {
    "dataset": "mnist1d", "model": "cnn1d",
    "optimizer": {"name": "momentum", "momentum": 0.9, "weight_decay": 5e-4},
    "batch_size": 64, "budget": 3000, "eval_every": 50, "seed": 0, "threads": 1,
}  # fmt: skip


def _catalogue(budget: int) -> list[str]:
    """The policy catalogue and the presets as PNGs (the demo's first job, kept)."""
    from workbench.paths import store_path
    from workbench.policies import one_cycle, sgdr, warmup_cosine, wsd
    from workbench.policies.plot import plot_families, plot_policies

    families = plot_families(store_path("plots", "lr-functions.png"), budget)
    presets = [
        warmup_cosine(0.1, budget),
        one_cycle(0.1, budget),
        wsd(0.1, budget),
        sgdr(0.1, budget, period=max(1, budget // 10)),
    ]
    labels = ["warm-up + cosine", "one-cycle", "WSD", "SGDR"]
    preset_png = store_path("plots", "presets.png")
    plot_policies(presets, budget, preset_png, labels=labels, title="presets")
    return [str(families), str(preset_png)]


def _run(spec: dict[str, Any], store: Any, label: str) -> dict[str, Any]:
    from workbench.store import Recorder
    from workbench.train import train

    print(
        f"\n▶ {label}: {spec['policy'] if 'stages' not in spec['policy'] else '(composite)'}",
        flush=True,
    )
    result = train(
        dict(spec, tags={"demo": label}), callbacks=[Recorder(store)], progress=True
    ).to_dict()
    return result


def _reached(result: dict[str, Any], target: float) -> tuple[int | None, float | None]:
    for p in result["history"]:
        if p["val_top1"] >= target:
            return p["iteration"], p["train_seconds"]
    return None, None


def _row(label: str, result: dict[str, Any], target: float, base_its: int | None) -> dict[str, Any]:
    its, secs = _reached(result, target)
    speedup = base_its / its if its and base_its else None
    return {"policy": label, "final_top1": result["final_top1"],
            "final_test_top1": result["final_test_top1"], "iterations_to_target": its,
            "seconds_to_target": secs, "speedup": speedup, "run_id": result["run_id"],
            "policy_hash": result["policy_hash"]}  # fmt: skip


def _fmt(x: Any, kind: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—" if kind != "its" else "not reached"
    return {"pct": f"{100 * x:.1f}%", "its": f"{x}", "s": f"{x:.1f}", "x": f"{x:.2f}×"}[kind]


def table(rows: list[dict[str, Any]], target: float, budget: int) -> str:
    """The paper-style comparison table as text."""
    head = (
        f"{'policy':<34} {'val top-1':>9} {'test top-1':>10} {'its to target':>13} "
        f"{'s to target':>11} {'speedup':>8}"
    )
    lines = [
        f"target: {100 * target:.1f}% validation top-1 (the default's final), "
        f"budget {budget} iterations",
        head,
        "-" * len(head),
    ]
    for r in rows:
        lines.append(
            f"{r['policy'][:34]:<34} {_fmt(r['final_top1'], 'pct'):>9} "
            f"{_fmt(r['final_test_top1'], 'pct'):>10} "
            f"{_fmt(r['iterations_to_target'], 'its'):>13} "
            f"{_fmt(r['seconds_to_target'], 's'):>11} {_fmt(r['speedup'], 'x'):>8}"
        )
    return "\n".join(lines)


def _plots(
    results: dict[str, dict[str, Any]], curve: dict[str, Any] | None, budget: int
) -> list[str]:
    """Policy traces (LR and validation top-1, stage boundaries marked) and the range test."""
    from workbench.paths import store_path
    from workbench.policies import from_spec
    from workbench.policies.plot import draw_policy, pyplot
    from workbench.recommend.range_test import suggest_range

    plt = pyplot()
    fig, (ax_lr, ax_acc) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for label, res in results.items():
        line = draw_policy(ax_lr, from_spec(res["spec"]["policy"]), budget, label=label)
        pts = res["history"]
        ax_acc.plot(
            [p["iteration"] for p in pts],
            [p["val_top1"] for p in pts],
            color=line.get_color(),
            label=label,
        )
    ax_acc.set_ylabel("validation top-1")
    ax_acc.set_xlabel("iteration")
    ax_lr.set_xlabel("")
    ax_lr.legend(fontsize=7)
    ax_acc.legend(fontsize=7)
    fig.tight_layout()
    traces = store_path("plots", "demo-traces.png")
    fig.savefig(traces, dpi=110)
    plt.close(fig)
    out = [str(traces)]
    if curve:
        rt = store_path("plots", "demo-range-test.png")
        suggest_range(curve["lrs"], curve["losses"]).plot(rt)
        out.append(str(rt))
    return out


def _demo(args: argparse.Namespace) -> int:
    from workbench import jsonio
    from workbench.paths import store_path
    from workbench.recommend import SearchConfig, default_policy, modern_baselines, recommend
    from workbench.recommend.defaults import default_explanation
    from workbench.store import open_store

    t0 = time.perf_counter()
    spec = dict(DEMO_SPEC, budget=args.budget, seed=args.seed, eval_every=max(1, args.budget // 60))
    budget = spec["budget"]
    store = open_store(args.db)
    print(
        f"LR Workbench demo: {spec['dataset']}/{spec['model']}, "
        f"{spec['optimizer']['name']} {spec['optimizer']}, batch {spec['batch_size']}, "
        f"budget {budget} iterations; store {store.url if hasattr(store, 'url') else ''}"
    )
    plots = _catalogue(budget)

    # 1. The paper's default policy; its final accuracy is the target.
    default = default_policy(spec, budget).to_spec()
    print(f"default policy: {default_explanation(spec)}")
    results = {"default (Caffe INV)": _run(dict(spec, policy=default), store, "default")}
    base = results["default (Caffe INV)"]
    target = float(base["final_top1"])

    # 2. The recommender (history first; else range test → staged search → verification).
    print(f"\n▶ recommender: target {100 * target:.1f}% within {budget} iterations")
    rec = recommend(
        dict(spec, policy=default, target=target),
        store=store,
        config=SearchConfig(),
        progress=lambda m: print("  " + m, flush=True),
    )
    print(f"  → {rec.explanation}")
    results["recommended"] = _run(dict(spec, policy=rec.policy), store, "recommended")

    # 3. Modern reference points with the range test's peak (when the search ran one).
    peak = (rec.range or {}).get("high")
    curve = (rec.range or {}).get("curve")
    if peak is None and not args.no_baselines:  # recommended from history: no range test ran
        from workbench.recommend import range_test
        from workbench.recommend.core import search_bounds

        rt = range_test(dict(spec, policy=default))
        peak = search_bounds(dict(spec, policy=default), rt)[1]
        curve = {"lrs": rt.lrs, "losses": rt.losses}
    if peak and not args.no_baselines:
        for name, b in modern_baselines(peak, budget, spec["optimizer"]).items():
            results[name] = _run(dict(spec, policy=b.policy, optimizer=b.optimizer), store, name)

    base_its, _ = _reached(base, target)
    rows = [_row(label, res, target, base_its) for label, res in results.items()]
    print("\n" + table(rows, target, budget))
    v = rec.verdict or {}
    print(
        f"\nrecommended policy: {from_text(rec.policy)}\n  why: {rec.explanation}\n"
        f"  verification (fresh run): {v.get('verdict')} at iteration {v.get('iteration')}"
        f"\n  search cost: {rec.search_iterations} iterations = "
        f"{rec.plain_run_equivalents:.2f} plain runs"
    )
    plots += _plots(results, curve, budget)
    report = store_path("reports", "demo.json")
    report.write_text(
        jsonio.dumps(
            {"spec": spec, "target": target, "table": rows, "recommendation": rec.to_dict()},
            indent=2,
        )
    )
    print(
        f"\nresults: store {getattr(store, 'url', '')} (runs, probes, search "
        f"{rec.search_id[:12]}); summary {report}"
    )
    for p in plots:
        print(f"plot: {p}")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")
    return 0


def from_text(policy: dict[str, Any]) -> str:
    """The compact text form of a policy spec."""
    from workbench.policies import from_spec

    return from_spec(policy).text


def register(sub: argparse._SubParsersAction) -> None:
    """Add `workbench demo`."""
    p = sub.add_parser("demo", help="the main job on the embedded default")
    add_common(p, json_flag=False)
    p.add_argument(
        "--budget",
        type=int,
        default=DEMO_SPEC["budget"],
        help=f"iterations per run (default {DEMO_SPEC['budget']})",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--no-baselines",
        action="store_true",
        help="skip one-cycle, warm-up + cosine and Schedule-Free",
    )
    p.set_defaults(func=_demo)
