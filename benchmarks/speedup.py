"""Recommender speedup over the paper's default policies (Table 6's CPU twins).

Per task: the default policy runs its whole budget on three seeds; the target is the median
of its final validation top-1 (DESIGN.md "Time to target"). The recommender runs once
(seed 0, no history) and once more with the store's history (seed 1). Then, on every seed,
each policy runs until it reaches the target (a seed that never does is censored at the
budget): the default, one-cycle, warm-up + cosine and Schedule-Free (their peak LR from
the same range test the recommender saw), the recommended policy, and the policy the
recommender gives when the request allows an optimizer change (`allow_optimizer_change`:
the task optimizer's Schedule-Free counterpart joins stage 1; same range test, searched
once without and once with history like the plain one). Iterations are deterministic on
CPU; seconds are this shared machine's and only indicative.

    .venv/bin/python benchmarks/speedup.py            # all tasks (≈ 10–20 min on 2 cores)
    .venv/bin/python benchmarks/speedup.py --tasks mnist1d-cnn1d-adam --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MOMENTUM = {"name": "momentum", "momentum": 0.9, "weight_decay": 5e-4}
# eval_every ≈ 1.7–2% of the budget (DESIGN.md "Time to target"); one thread: these models
# are small enough that a second thread only adds contention on a shared 2-core machine.
TASKS: dict[str, dict[str, Any]] = {
    "mnist1d-cnn1d-momentum": {"dataset": "mnist1d", "model": "cnn1d", "optimizer": MOMENTUM,
                               "batch_size": 64, "budget": 3000, "eval_every": 50},
    "mnist1d-cnn1d-adam": {"dataset": "mnist1d", "model": "cnn1d", "optimizer": {"name": "adam"},
                           "batch_size": 64, "budget": 3000, "eval_every": 50},
    "digits-lenet5-momentum": {"dataset": "digits", "model": "lenet5", "optimizer": MOMENTUM,
                               "batch_size": 64, "budget": 300, "eval_every": 6},
}  # fmt: skip
GOALS = {"min_speedup": 1.6, "median_speedup": 3.0, "cost_no_history": 3.0,
         "cost_with_history": 1.0}  # fmt: skip


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _train(spec: dict[str, Any], store: Any, label: str) -> dict[str, Any]:
    from workbench.store import Recorder
    from workbench.train import train

    t0 = time.perf_counter()
    res = train(dict(spec, tags={"bench": label}), callbacks=[Recorder(store)]).to_dict()
    its = res["iterations_to_target"]
    _say(
        f"    {label:<14} seed {spec['seed']}: "
        + (f"target at {its}" if its is not None else f"not reached ({res['status']})")
        + f", final {res['final_top1']:.3f} ({time.perf_counter() - t0:.0f} s)"
    )
    return res


def _median_its(results: list[dict[str, Any]], budget: int) -> tuple[float, int]:
    """Median iterations to target with censored seeds at the budget; censored count."""
    its = [r["iterations_to_target"] for r in results]
    return statistics.median([budget if i is None else i for i in its]), its.count(None)


def run_task(name: str, seeds: list[int], store: Any, config: Any = None) -> dict[str, Any]:
    """Every measurement of one task (see the module docstring)."""
    from workbench.recommend import SearchConfig, default_policy, modern_baselines, recommend
    from workbench.recommend.range_test import range_test

    base = dict(TASKS[name], threads=1)
    budget = base["budget"]
    default = default_policy(base, budget).to_spec()
    _say(f"[{name}] default {default}")
    t_task = time.perf_counter()
    defaults = {s: _train(dict(base, policy=default, seed=s), store, "default") for s in seeds}
    target = statistics.median(r["final_top1"] for r in defaults.values())
    _say(f"[{name}] target = median final val top-1 of the default = {target:.4f}")

    spec0 = dict(base, policy=default, seed=seeds[0], target=target)
    rt = range_test(spec0)
    _say(f"[{name}] range test {rt.suggestion} ({rt.iterations} iterations)")

    def search(allow: bool, tag: str) -> tuple[Any, float, Any]:
        """The request without history (timed), then again on another seed with it."""
        t0 = time.perf_counter()
        fresh = recommend(
            spec0, store=store, config=config or SearchConfig(), use_history=False,
            range_result=rt, allow_optimizer_change=allow,
            progress=lambda m: _say(f"    {tag}" + m),
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        again = recommend(
            dict(spec0, seed=seeds[1 % len(seeds)]), store=store, config=SearchConfig(),
            use_history=True, verify=False, allow_optimizer_change=allow,
            progress=lambda m: _say(f"    {tag}[history] " + m),
        )  # fmt: skip
        return fresh, seconds, again

    rec, search_seconds, rec_h = search(False, "")
    peak = rec.range["high"]
    # The same two requests with the optimizer change allowed (the opt-in).
    rec_sf, search_sf_seconds, rec_sf_h = search(True, "[opt-in] ")

    variants: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "recommended": (rec.policy, base["optimizer"]),
        "recommended-sf": (rec_sf.policy, rec_sf.optimizer),
    }
    for label, b in modern_baselines(peak, budget, base["optimizer"]).items():
        variants[label] = (b.policy, b.optimizer)
    runs: dict[str, list[dict[str, Any]]] = {
        "default": [_at_target(defaults[s], target) for s in seeds]
    }
    for s in seeds:  # interleaved: every variant on a seed before the next seed
        for label, (policy, opt) in variants.items():
            spec = dict(
                base, policy=policy, optimizer=opt, seed=s, target=target, stop_at_target=True
            )
            runs.setdefault(label, []).append(_train(spec, store, label))
    table = {}
    for label, rs in runs.items():
        med, censored = _median_its(rs, budget)
        secs = [r["seconds_to_target"] for r in rs if r["seconds_to_target"] is not None]
        table[label] = {
            "median_iterations": med,
            "censored": censored,
            "per_seed": [r["iterations_to_target"] for r in rs],
            "median_seconds": statistics.median(secs) if secs else None,
        }
    d = table["default"]["median_iterations"]

    def per_seed(label: str) -> list[float]:
        pairs = zip(table["default"]["per_seed"], table[label]["per_seed"], strict=True)
        return [(a or budget) / (b or budget) for a, b in pairs]

    return {
        "task": name, "budget": budget, "eval_every": base["eval_every"], "target": target,
        "seeds": seeds, "default_policy": default, "range": [rt.low, rt.high],
        "recommended": rec.policy, "recommended_text": rec.to_dict()["policy_text"],
        "explanation": rec.explanation, "table": table,
        "speedup": d / table["recommended"]["median_iterations"],
        "speedup_per_seed": per_seed("recommended"),
        "cost_no_history": rec.search_iterations / budget,
        "cost_with_history": rec_h.search_iterations / budget, "history_source": rec_h.source,
        "verdict": (rec.verdict or {}).get("verdict"), "search_seconds": search_seconds,
        "recommended_sf": rec_sf.policy, "recommended_sf_text": rec_sf.to_dict()["policy_text"],
        "optimizer_sf": rec_sf.optimizer, "optimizer_changed": rec_sf.optimizer_changed,
        "explanation_sf": rec_sf.explanation,
        "speedup_sf": d / table["recommended-sf"]["median_iterations"],
        "speedup_sf_per_seed": per_seed("recommended-sf"),
        "cost_sf_no_history": rec_sf.search_iterations / budget,
        "cost_sf_with_history": rec_sf_h.search_iterations / budget,
        "history_sf_source": rec_sf_h.source,
        "history_sf_optimizer_changed": rec_sf_h.optimizer_changed,
        "verdict_sf": (rec_sf.verdict or {}).get("verdict"),
        "search_sf_seconds": search_sf_seconds, "task_seconds": time.perf_counter() - t_task,
    }  # fmt: skip


def _at_target(result: dict[str, Any], target: float) -> dict[str, Any]:
    """A full-budget run's iterations and training seconds to `target`, read off its curve."""
    hit = next((p for p in result["history"] if p["val_top1"] >= target), None)
    return dict(
        result,
        iterations_to_target=None if hit is None else hit["iteration"],
        seconds_to_target=None if hit is None else hit["train_seconds"],
    )


def _cell(t: dict[str, Any], budget: int) -> str:
    med = t["median_iterations"]
    mark = "≥" if t["censored"] * 2 > len(t["per_seed"]) else ""
    cens = f" ({t['censored']} cens.)" if t["censored"] else ""
    return f"{mark}{med:.0f}{cens}"


def markdown(results: list[dict[str, Any]]) -> str:
    """The table for benchmarks/README.md."""
    cols = ["default", "one-cycle", "warmup-cosine", "schedule-free", "recommended",
            "recommended-sf"]  # fmt: skip
    head = (
        "| task | budget | target | "
        + " | ".join(cols)
        + " | speedup (per seed) | beats modern | cost: no history / history"
        + " | opt-in: speedup (per seed) | beats modern | cost | optimizer |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        t, b = r["table"], r["budget"]

        def beats(label: str, t: dict[str, Any] = t) -> str:
            mine = t[label]["median_iterations"]
            return "yes" if all(mine < t[c]["median_iterations"] for c in cols[1:4]) else "no"

        per = ", ".join(f"{x:.1f}" for x in r["speedup_per_seed"])
        per_sf = ", ".join(f"{x:.1f}" for x in r["speedup_sf_per_seed"])
        lines.append(
            f"| {r['task']} | {b} | {100 * r['target']:.1f}% | "
            + " | ".join(_cell(t[c], b) for c in cols)
            + f" | **{r['speedup']:.2f}×** ({per}) | {beats('recommended')} | "
            f"{r['cost_no_history']:.2f} / {r['cost_with_history']:.2f}"
            f" | **{r['speedup_sf']:.2f}×** ({per_sf}) | {beats('recommended-sf')} | "
            f"{r['cost_sf_no_history']:.2f} / {r['cost_sf_with_history']:.2f} | "
            f"{r['optimizer_sf']['name']}{' (changed)' if r['optimizer_changed'] else ''} |"
        )
    speedups = [r["speedup"] for r in results]
    lines.append("")
    lines.append(
        f"Median speedup across tasks: **{statistics.median(speedups):.2f}×** "
        f"(min {min(speedups):.2f}×). Goals: ≥ {GOALS['min_speedup']}× on every task, "
        f"median ≥ {GOALS['median_speedup']}×, search cost ≤ {GOALS['cost_no_history']:.0f}"
        f" plain runs without history and ≤ {GOALS['cost_with_history']:.0f} with it."
    )
    sf = [r["speedup_sf"] for r in results]
    lines.append(
        f"With the optimizer change allowed (opt-in): median speedup "
        f"**{statistics.median(sf):.2f}×** (min {min(sf):.2f}×)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the markdown table; write the JSON results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--out", default=None, help="JSON results (default store/reports/)")
    ap.add_argument("--stages", type=int, default=None, help="search stages (default: auto)")
    ap.add_argument("--k", type=int, default=6, help="candidates per stage (default 6)")
    ap.add_argument("--rung", type=float, default=0.35, help="successive-halving rung")
    args = ap.parse_args(argv)
    from workbench.paths import store_path

    out = Path(args.out) if args.out else store_path("reports", "speedup.json")
    # A private store: the benchmark's runs and searches must not become a user's history.
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="wb-speedup-")
    os.environ.pop("WORKBENCH_DB_URL", None)
    from workbench.store import open_store

    store = open_store()
    t0 = time.perf_counter()
    from workbench.recommend import SearchConfig

    config = SearchConfig(stages=args.stages, k=args.k, rung=args.rung)
    results = [run_task(name, args.seeds, store, config) for name in args.tasks]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(markdown(results))
    print(f"\n(total {time.perf_counter() - t0:.0f} s; results in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
