"""Calibration of the auto-verification stop rules (issue 5).

On MNIST-1D/cnn1d with SGD-momentum and with Adam, a fixed set of policies across the four
families and a wide LR range runs in shadow mode to its full budget. Curves are cached in
`store/verify_calibration.json`, so rule sets are re-scored without retraining. Each rule set
(and optuna's MedianPruner / SuccessiveHalvingPruner fed the same curves, over several trial
orders) is scored for false rejections (stopped, yet the full curve meets the target),
missed rejections (a failing policy run to the end) and compute saved on failing policies.

    .venv/bin/python benchmarks/verify_calibration.py --per-run   # train what is missing, score

Held-out sets (same cache): `--budget 1000`, `--budget 2000` (the policies rescaled to that
budget) and `--seed 1` (another training seed); parameters are never retuned on them.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench import jsonio  # noqa: E402
from workbench.paths import store_path  # noqa: E402
from workbench.policies import from_spec, spec_hash, warmup_cosine, wsd  # noqa: E402
from workbench.verify import (  # noqa: E402
    Divergence,
    Monitor,
    NeverStop,
    Plateau,
    StuckAtChance,
    UnreachableTarget,
    default_rules,
    verify,
)

BUDGET, EVERY, SEED = 1500, 50, 0
TASKS = {
    # name: (optimizer, base LR, target). Targets are fixed before scoring: roughly what a
    # good policy of the set reaches with some room, so that meets and fails both occur.
    "momentum": ({"name": "momentum", "momentum": 0.9}, 0.05, 0.85),
    "adam": ({"name": "adam"}, 0.003, 0.85),
}
CACHE = "verify_calibration.json"
KEEP = ("iteration", "lr", "train_loss", "val_loss", "val_top1", "test_top1")


def policies(b: float, budget: int) -> list[tuple[str, dict[str, Any]]]:
    """The fixed policy set around base LR `b`: good, mediocre and bad, every family."""
    tenfold = 0.1 ** (1.0 / budget)
    return [
        ("FIX b", {"function": "FIX", "k0": b}),
        ("FIX b/10", {"function": "FIX", "k0": b / 10}),
        ("FIX b/1e3", {"function": "FIX", "k0": b / 1e3}),
        ("FIX b/1e5", {"function": "FIX", "k0": b / 1e5}),
        ("FIX 10b", {"function": "FIX", "k0": 10 * b}),
        ("FIX 100b", {"function": "FIX", "k0": 100 * b}),
        (
            "NSTEP 4b",
            {"function": "NSTEP", "k0": 4 * b, "gamma": 0.1, "l": [budget // 2, 3 * budget // 4]},
        ),
        ("STEP b", {"function": "STEP", "k0": b, "gamma": 0.5, "l": budget // 4}),
        ("EXP b tenfold", {"function": "EXP", "k0": b, "gamma": tenfold}),
        ("EXP b fast", {"function": "EXP", "k0": b, "gamma": 0.99}),
        ("INV b", {"function": "INV", "k0": b, "gamma": 10.0 / budget, "p": 0.75}),
        ("POLY 2b", {"function": "POLY", "k0": 0.0, "k1": 2 * b, "p": 1.0, "l": budget}),
        ("LINEAR b/100→b", {"function": "LINEAR", "k0": b / 100, "k1": b, "l": budget}),
        ("SIG b rising", {"function": "SIG", "k0": b, "gamma": 10.0 / budget, "l": budget // 2}),
        ("TRI b/100–b", {"function": "TRI", "k0": b / 100, "k1": b, "l": budget // 8}),
        ("TRI2 b/1e3–2b", {"function": "TRI2", "k0": b / 1e3, "k1": 2 * b, "l": budget // 8}),
        ("SIN tiny", {"function": "SIN", "k0": b / 1e4, "k1": b / 1e3, "l": budget // 8}),
        ("COS 2b", {"function": "COS", "k0": 0.0, "k1": 2 * b, "l": budget}),
        ("COS tiny", {"function": "COS", "k0": 0.0, "k1": b / 1e3, "l": budget}),
        (
            "COSEXP b/100–b",
            {"function": "COSEXP", "k0": b / 100, "k1": b, "gamma": tenfold, "l": budget // 8},
        ),
        (
            "TRIEXP b/100–10b",
            {
                "function": "TRIEXP",
                "k0": b / 100,
                "k1": 10 * b,
                "gamma": tenfold**2,
                "l": budget // 8,
            },
        ),
        ("RSW b/100–b", {"function": "RSW", "k0": b / 100, "k1": b, "l": budget // 4}),
        ("COSRSW 2b", {"function": "COSRSW", "k0": 0.0, "k1": 2 * b, "l": budget // 3}),
        ("SINRSW2 b/1e3–b", {"function": "SINRSW2", "k0": b / 1e3, "k1": b, "l": budget // 4}),
        (
            "COSRSWEXP b/100–10b",
            {
                "function": "COSRSWEXP",
                "k0": b / 100,
                "k1": 10 * b,
                "gamma": tenfold,
                "l": budget // 4,
            },
        ),
        ("RSW tiny", {"function": "RSW", "k0": b / 1e5, "k1": b / 1e4, "l": budget // 4}),
        ("warmup-cosine 2b", warmup_cosine(2 * b, budget).to_spec()),
        ("WSD b", wsd(b, budget).to_spec()),
    ]


def run_spec(task: str, policy: dict[str, Any], budget: int, every: int) -> dict[str, Any]:
    """The run spec of one calibration run."""
    opt, _, target = TASKS[task]
    return {
        "dataset": "mnist1d",
        "model": "cnn1d",
        "optimizer": opt,
        "policy": policy,
        "batch_size": 64,
        "budget": budget,
        "eval_every": every,
        "seed": SEED,
        "target": target,
        "threads": 1,
    }


def key_of(task: str, policy: dict[str, Any], budget: int, every: int) -> str:
    return f"{task}|{spec_hash(policy)}|{budget}|{every}|{SEED}"


def collect(budget: int, every: int, cache: Path) -> dict[str, Any]:
    """Train (shadow mode, full budget) every run not yet in the cache."""
    data = jsonio.loads(cache.read_text()) if cache.is_file() else {}
    for task, (_, b, _) in TASKS.items():
        for label, pol in policies(b, budget):
            key = key_of(task, pol, budget, every)
            if key in data:
                continue
            t0 = time.perf_counter()
            v = verify(run_spec(task, pol, budget, every), shadow=True).to_dict()
            run = v["run"]
            data[key] = {
                "task": task,
                "label": label,
                "policy": pol,
                "budget": budget,
                "status": run["status"],
                "stop_reason": run["stop_reason"],
                "history": [{k: p.get(k) for k in KEEP} for p in run["history"]],
                "shadow_decisions": v["decisions"],
                "seconds": time.perf_counter() - t0,
            }
            print(
                f"{task:9s} {label:22s} {run['status']:9s} best {run['best_top1']:.3f} "
                f"({data[key]['seconds']:.1f}s)",
                file=sys.stderr,
                flush=True,
            )
            cache.write_text(jsonio.dumps(data, indent=1))
    return data


# --- rule sets -----------------------------------------------------------------------------


class Unaware:
    """Ablation: a rule that believes the current LR holds to the end of the budget."""

    def __init__(self, rule: Any):
        self.rule, self.name = rule, rule.name

    def should_stop(self, context: Any) -> Any:
        from dataclasses import replace

        lr = float(context.policy(context.iteration))
        flat = replace(context, policy=from_spec({"function": "FIX", "k0": lr}))
        return self.rule.should_stop(flat)


def _before_issue5() -> list[Any]:
    """The default rules as calibrated before issue 5's extra forecast bounds."""
    old = UnreachableTarget(
        rise_power=0.0, anneal_from_best=False, anneal_noise=None, anneal_respond=False
    )
    return [Divergence(), StuckAtChance(), Plateau(), old]


RULE_SETS = {
    "never": lambda: [NeverStop()],
    "divergence": lambda: [Divergence()],
    "divergence + stuck_at_chance": lambda: [Divergence(), StuckAtChance()],
    "+ plateau": lambda: [Divergence(), StuckAtChance(), Plateau()],
    "default (+ unreachable_target)": default_rules,
    "default before issue 5 (no rise factor, no extra annealing bounds)": _before_issue5,
    "default without the post-step response test (the default before it)": lambda: [
        Divergence(),
        StuckAtChance(),
        Plateau(),
        UnreachableTarget(anneal_respond=False),
    ],
    "default + 15% annealing lag (option)": lambda: [
        Divergence(),
        StuckAtChance(),
        Plateau(),
        UnreachableTarget(anneal_lag=0.15),
    ],
    "default, schedule-unaware (ablation)": lambda: [
        Divergence(),
        StuckAtChance(),
        Unaware(Plateau()),
        Unaware(UnreachableTarget()),
    ],
}
STORE_SET = "default + store prior (leave-one-out)"
STORE_SETS = {
    STORE_SET: default_rules,
    "default without the post-step response test + store prior": lambda: [
        Divergence(),
        StuckAtChance(),
        Plateau(),
        UnreachableTarget(anneal_respond=False),
    ],
    "default before issue 5 + store prior": _before_issue5,
    "default + store prior + store-learned slope factor (ablation)": lambda: [
        Divergence(),
        StuckAtChance(),
        Plateau(),
        UnreachableTarget(learn_slope=True),
    ],
}


def truth(run: dict[str, Any], target: float) -> tuple[bool, int | None]:
    """(meets, first iteration at or above the target) from the full curve."""
    for p in run["history"]:
        v = p.get("val_top1")
        if isinstance(v, float) and math.isfinite(v) and v >= target:
            return True, int(p["iteration"])
    return False, None


def end_of(run: dict[str, Any]) -> int:
    """Iterations the run used when no rule stops it (the engine stops at a NaN loss)."""
    return int(run["history"][-1]["iteration"])


def replay(run: dict[str, Any], rules: list[Any], target: float, prior=None):
    """First rule decision over the cached curve (None when no rule fires)."""
    m = Monitor(run["policy"], run["budget"], target, rules, chance=0.1, prior_curves=prior)
    for p in run["history"]:
        m.report_point(p)
        if m.should_stop():
            return m.decision
        if m.target_reached():
            return None
    return None


def score_stops(runs: list[dict[str, Any]], stops: list[int | None], target_of) -> dict:
    """False/missed rejections and compute saved, given each run's stop iteration."""
    false_rej, missed, fail_budget, fail_used, n_fail, n_meet = [], [], 0, 0, 0, 0
    for run, stop in zip(runs, stops, strict=True):
        meets, at = truth(run, target_of(run))
        if meets:
            n_meet += 1
            if stop is not None and stop < at:
                false_rej.append(f"{run['task']}:{run['label']}@{stop}")
            continue
        n_fail += 1
        used = end_of(run) if stop is None else min(stop, end_of(run))
        fail_budget += run["budget"]
        fail_used += used
        if (stop is None or stop >= run["budget"]) and run["status"] != "diverged":
            missed.append(f"{run['task']}:{run['label']}")
    return {
        "meets": n_meet,
        "fails": n_fail,
        "false_rejections": false_rej,
        "missed": missed,
        "saved": 1.0 - fail_used / fail_budget if fail_budget else 0.0,
    }


def _target(run: dict[str, Any], target: float | None) -> float:
    return TASKS[run["task"]][2] if target is None else target


def rule_stops(
    data: dict[str, Any], make, use_prior: bool = False, target: float | None = None
) -> list[int | None]:
    """Where a fresh rule set from `make()` stops each cached run (None: never)."""
    runs = list(data.values())
    stops = []
    for run in runs:
        prior = None
        if use_prior:  # leave-one-out: every other curve of the task, as a store would hold
            prior = [
                {
                    "policy": r["policy"],
                    "budget": r["budget"],
                    "history": r["history"],
                    "status": r["status"],
                }
                for r in runs
                if r["task"] == run["task"] and r is not run
            ]
        d = replay(run, make(), _target(run, target), prior)
        stops.append(d.iteration if d else None)
    return stops


def score_rules(
    data: dict[str, Any], make, use_prior: bool = False, target: float | None = None
) -> dict[str, Any]:
    """Score a rule set on the cached curves at the tasks' targets (or `target`)."""
    stops = rule_stops(data, make, use_prior, target)
    return score_stops(list(data.values()), stops, lambda r: _target(r, target))


PRUNERS = {
    "optuna MedianPruner (defaults)": lambda budget: _optuna().pruners.MedianPruner(),
    "optuna MedianPruner (warm-up = our 20% grace)": lambda budget: _optuna().pruners.MedianPruner(
        n_startup_trials=5, n_warmup_steps=int(0.2 * budget)
    ),
    "optuna SuccessiveHalvingPruner (defaults)": lambda budget: (
        _optuna().pruners.SuccessiveHalvingPruner()
    ),
}


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


def optuna_stops(data: dict[str, Any], make_pruner, orders: int = 7) -> list[list[int | None]]:
    """Stops of an optuna pruner fed the cached curves, one list per shuffled trial order."""
    optuna = _optuna()
    runs = list(data.values())
    out = []
    for seed in range(orders):
        stops: dict[int, int | None] = {}
        for task in TASKS:
            idx = [i for i, r in enumerate(runs) if r["task"] == task]
            random.Random(seed).shuffle(idx)
            study = optuna.create_study(
                direction="maximize",
                pruner=make_pruner(runs[idx[0]]["budget"]),
                sampler=optuna.samplers.RandomSampler(seed=seed),
            )
            for i in idx:
                trial = study.ask()
                stops[i], last = None, 0.0
                for p in runs[i]["history"]:
                    v = p.get("val_top1")
                    last = v if isinstance(v, float) and math.isfinite(v) else 0.0
                    trial.report(last, int(p["iteration"]))
                    if p["iteration"] > 0 and trial.should_prune():
                        stops[i] = int(p["iteration"])
                        break
                if stops[i] is None:
                    study.tell(trial, last)
                else:
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        out.append([stops[i] for i in range(len(runs))])
    return out


def _fmt_list(items: list[str], n: int = 3) -> str:
    if not items:
        return ""
    return " (" + ", ".join(items[:n]) + (f", +{len(items) - n}" if len(items) > n else "") + ")"


def _row(name: str, s: dict[str, Any]) -> str:
    return (
        f"| {name} | {len(s['false_rejections'])}{_fmt_list(s['false_rejections'])} | "
        f"{len(s['missed'])} | {s['saved']:.0%} |"
    )


def _spread_row(name: str, scores: list[dict[str, Any]]) -> str:
    fr = [len(r["false_rejections"]) for r in scores]
    ms = [len(r["missed"]) for r in scores]
    sv = [r["saved"] for r in scores]
    return (
        f"| {name} | {statistics.median(fr):g} ({min(fr)}–{max(fr)}) | "
        f"{statistics.median(ms):g} ({min(ms)}–{max(ms)}) | "
        f"{statistics.median(sv):.0%} ({min(sv):.0%}–{max(sv):.0%}) |"
    )


HEADER = [
    "| rule set | false rejections | missed rejections | compute saved on failing |",
    "|---|---|---|---|",
]


def table(data: dict[str, Any], target: float | None = None, pruner_stops=None) -> str:
    """The markdown table of every rule set and the optuna pruners at one target."""
    runs = list(data.values())
    rows = list(HEADER)
    for name, make in RULE_SETS.items():
        rows.append(_row(name, score_rules(data, make, target=target)))
    for name, make in STORE_SETS.items():
        rows.append(_row(name, score_rules(data, make, True, target)))
    for name, all_stops in (pruner_stops or {}).items():
        scores = [score_stops(runs, st, lambda r: _target(r, target)) for st in all_stops]
        rows.append(_spread_row(f"{name}, median of {len(scores)} trial orders (min–max)", scores))
    return "\n".join(rows)


def counts(data: dict[str, Any], target: float | None = None) -> str:
    """How many runs meet / fail / diverge per task at the target."""
    parts = []
    for task in TASKS:
        runs = [r for r in data.values() if r["task"] == task]
        meets = sum(truth(r, _target(r, target))[0] for r in runs)
        div = sum(r["status"] == "diverged" for r in runs)
        parts.append(
            f"{task}: {len(runs)} policies, {meets} meet, "
            f"{len(runs) - meets - div} fail, {div} diverge"
        )
    return "; ".join(parts)


def per_run(data: dict[str, Any]) -> str:
    """One line per run: truth and the default rules' decision."""
    lines = [
        "| task | policy | best val top-1 | truth | default rules stop at (rule) |",
        "|---|---|---|---|---|",
    ]
    for run in data.values():
        target = TASKS[run["task"]][2]
        meets, at = truth(run, target)
        accs = [
            p["val_top1"]
            for p in run["history"]
            if isinstance(p.get("val_top1"), float) and math.isfinite(p["val_top1"])
        ]
        d = replay(run, default_rules(), target)
        outcome = (
            f"meets @{at}" if meets else ("diverged" if run["status"] == "diverged" else "fails")
        )
        lines.append(
            f"| {run['task']} | {run['label']} | {max(accs):.3f} | {outcome} | "
            f"{f'{d.iteration} ({d.rule})' if d else '—'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Train what is missing, score every rule set, print the tables."""
    global SEED
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=BUDGET)
    ap.add_argument("--every", type=int, default=EVERY)
    ap.add_argument("--seed", type=int, default=SEED, help="training seed (a fresh held-out set)")
    ap.add_argument("--cache", default=str(store_path(CACHE)))
    ap.add_argument(
        "--targets",
        type=float,
        nargs="*",
        default=[0.8, 0.9],
        help="other targets to re-score at (robustness)",
    )
    ap.add_argument("--per-run", action="store_true", help="also print one row per run")
    args = ap.parse_args(argv)
    SEED = args.seed
    data = collect(args.budget, args.every, Path(args.cache))
    wanted = {
        key_of(t, p, args.budget, args.every)
        for t, (_, b, _) in TASKS.items()
        for _, p in policies(b, args.budget)
    }
    data = {k: v for k, v in data.items() if k in wanted}
    pruner_stops = {name: optuna_stops(data, make) for name, make in PRUNERS.items()}
    print(f"### tasks' targets ({', '.join(f'{t} {v[2]}' for t, v in TASKS.items())})\n")
    print(counts(data) + "\n")
    print(table(data, None, pruner_stops))
    for target in args.targets:
        print(f"\n### target {target} on both tasks\n")
        print(counts(data, target) + "\n")
        print(table(data, target, pruner_stops))
    if args.per_run:
        print("\n" + per_run(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
