"""`workbench train`: one training run from flags or `--spec run.json`."""

from __future__ import annotations

import argparse
import math
from typing import Any

from workbench.cli import add_common, print_json

# The run spec flags and spec builder live in `runspec` (shared with recommend and verify);
# these names stay importable from here.
from workbench.commands.runspec import DEFAULTS as DEFAULTS
from workbench.commands.runspec import EVALUATIONS as EVALUATIONS
from workbench.commands.runspec import FIELDS as FIELDS
from workbench.commands.runspec import add_spec_flags
from workbench.commands.runspec import build_spec as build_spec


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `workbench train`."""
    p = subparsers.add_parser(
        "train",
        help="train one run (flags or --spec run.json)",
        description="Train one run. Flags override the fields of --spec; --set FIELD=JSON "
        "sets any run spec field.",
    )
    add_common(p)
    add_spec_flags(p)
    p.add_argument("--history", action="store_true", help="include the history in --json")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _recorder(db: str | None) -> list[Any]:
    """The store's recorder when the store package is available (it may not be installed)."""
    try:
        from workbench.store import Recorder, open_store
    except ImportError:
        return []
    return [Recorder(open_store(db))]


def run(args: argparse.Namespace) -> int:
    """Handler of `workbench train`."""
    from workbench.train import Trainer

    trainer = Trainer(
        build_spec(args), callbacks=_recorder(args.db), progress=not (args.json or args.no_progress)
    )
    result = trainer.run().to_dict()
    if args.json:
        if not args.history:
            result.pop("history")
        print_json(result)
    else:
        print(summary(result))
    return 0


def _pct(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def summary(result: dict[str, Any]) -> str:
    """A readable summary of a run result."""
    task = result["task"]
    opt = task["optimizer"]
    lines = [
        f"run {result['run_id']}: {result['status']}"
        + (f" ({result['stop_reason']})" if result["stop_reason"] else ""),
        f"  task        {task['dataset']} / {task['model']} / {opt['name']} / "
        f"batch {task['batch_size']}",
        f"  iterations  {result['iterations']} ({result['epochs']:.2f} epochs)",
        f"  top-1       final {_pct(result['final_top1'])}, best {_pct(result['best_top1'])}"
        f" (validation); test final {_pct(result['final_test_top1'])}",
    ]
    target = result["spec"].get("target")
    if target is not None:
        reached = result["iterations_to_target"]
        lines.append(
            f"  target      {_pct(target)}: "
            + (
                f"reached at iteration {reached} ({result['seconds_to_target']:.1f} s)"
                if reached is not None
                else "not reached"
            )
        )
    lines.append(f"  robustness  test loss − train loss = {result['robustness_gap']:.4f}")
    lines.append(
        f"  time        train {result['train_seconds']:.1f} s, "
        f"evaluation {result['eval_seconds']:.1f} s, wall {result['wall_seconds']:.1f} s"
    )
    if result.get("error"):
        lines.append(result["error"])
    return "\n".join(lines)
