"""`workbench recommend`: an LR policy for a task, budget and target (flags or --spec)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli import add_common, print_json
from workbench.commands.runspec import RUN_ONLY, add_spec_flags, build_spec

# The run spec's policy is ignored by the recommender, but a run spec needs one.
PLACEHOLDER_POLICY = {"function": "FIX", "k0": 0.01}
# Flags of `workbench train` that make no sense here: left out, so None for the spec builder.
UNUSED = dict.fromkeys(RUN_ONLY)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `workbench recommend`."""
    p = subparsers.add_parser(
        "recommend",
        help="recommend an LR policy for a task (history, range test, staged search)",
        description="Recommend an LR policy for the task, budget and target of a run spec "
        "(--spec or flags; the spec's policy is ignored): from the store's history when a "
        "policy met the target there in every run, else by a staged composition search; "
        "then verified by a fresh run.",
    )
    add_common(p)
    add_spec_flags(
        p,
        run_flags=False,
        eval_every_help="iterations between evaluations",
        set_help="set any run spec field (repeatable)",
    )
    p.add_argument(
        "--stages", type=int, default=None, help="stages of the search (default: 2–4 by budget)"
    )
    p.add_argument("--k", type=int, default=6, help="candidates per stage (default 6)")
    p.add_argument("--split", choices=("fixed", "adaptive"), default="fixed")
    p.add_argument("--no-history", action="store_true", help="ignore the store's history")
    p.add_argument("--no-verify", action="store_true", help="skip the verification run")
    p.add_argument(
        "--allow-schedule-free",
        action="store_true",
        help="also try the optimizer's Schedule-Free counterpart (momentum/sgd/nesterov → "
        "schedulefree-sgd, adam/adamw → schedulefree-adamw) as a stage-1 candidate; if it "
        "wins, the recommendation changes the optimizer (opt-in: it changes the task)",
    )
    p.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep the search's stage checkpoints under store/checkpoints/",
    )
    p.set_defaults(func=run)


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    """The run spec from --spec and the flags (as `workbench train` builds it)."""
    spec = build_spec(args)
    spec.setdefault("policy", PLACEHOLDER_POLICY)
    return spec


def run(args: argparse.Namespace) -> int:
    """Handler of `workbench recommend`."""
    from workbench.recommend import SearchConfig, recommend
    from workbench.store import open_store

    spec = build_request(args)
    config = SearchConfig(
        stages=args.stages, k=args.k, split=args.split, keep_checkpoints=args.keep_checkpoints
    )
    store = open_store(args.db)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    rec = recommend(
        spec,
        store=store,
        config=config,
        use_history=not args.no_history,
        verify=not args.no_verify,
        progress=None if args.json else say,
        allow_optimizer_change=args.allow_schedule_free,
    )
    if args.json:
        print_json(rec.to_dict())
    else:
        print(summary(rec.to_dict()))
    return 0


def summary(d: dict[str, Any]) -> str:
    """A readable summary of a recommendation."""
    lines = [
        f"recommended  {d['policy_text']}",
        f"             hash {d['policy_hash'][:16]}, source {d['source']}",
        f"why          {d['explanation']}",
        *(
            [f"OPTIMIZER    changed to {d['optimizer']} (train with it; --allow-schedule-free)"]
            if d.get("optimizer_changed")
            else []
        ),
        f"search cost  {d['search_iterations']} iterations "
        f"({d['plain_run_equivalents']:.2f} plain runs of {d['budget']})",
    ]
    v = d.get("verdict")
    if v:
        lines.append(
            f"verification {v['verdict']} at iteration {v['iteration']} "
            f"({v['compute_fraction']:.0%} of the budget)"
        )
    return "\n".join(lines)
