"""`workbench train`: one training run from flags or `--spec run.json`."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from workbench.cli import add_common, print_json
from workbench.errors import BadInput

# flag → run spec field, for the flags that map one to one.
FIELDS = {
    "dataset": "dataset",
    "model": "model",
    "batch_size": "batch_size",
    "budget": "budget",
    "eval_every": "eval_every",
    "seed": "seed",
    "target": "target",
    "subset": "subset",
    "eval_subset": "eval_subset",
    "val_fraction": "val_fraction",
    "device": "device",
    "threads": "threads",
    "data_root": "data_root",
    "run_id": "run_id",
    "checkpoint_every": "checkpoint_every",
}
DEFAULTS = {"optimizer": {"name": "momentum", "momentum": 0.9}, "seed": 0, "batch_size": 64}
EVALUATIONS = 20  # default eval_every = budget / EVALUATIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `workbench train`."""
    p = subparsers.add_parser(
        "train",
        help="train one run (flags or --spec run.json)",
        description="Train one run. Flags override the fields of --spec; --set FIELD=JSON "
        "sets any run spec field.",
    )
    add_common(p)
    p.add_argument("--spec", metavar="FILE", help="run spec (JSON file)")
    p.add_argument("--dataset")
    p.add_argument("--model")
    p.add_argument("--optimizer", metavar="NAME", help="optimizer name (default momentum)")
    p.add_argument(
        "--opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="optimizer setting, e.g. --opt weight_decay=5e-4 (repeatable)",
    )
    p.add_argument("--policy", metavar="SPEC", help="policy: JSON spec, text form, or a .json file")
    p.add_argument("--batch-size", type=int, help="default 64")
    p.add_argument("--budget", type=int, help="iterations")
    p.add_argument(
        "--eval-every",
        type=int,
        help=f"iterations between evaluations (default budget/{EVALUATIONS})",
    )
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--target", type=float, help="target validation top-1 (fraction)")
    p.add_argument("--stop-at-target", action="store_true", default=None)
    p.add_argument("--subset", type=int, help="training examples to keep")
    p.add_argument("--eval-subset", type=int, help="validation/test examples to keep")
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--device")
    p.add_argument("--threads", type=int)
    p.add_argument("--data-root")
    p.add_argument(
        "--download",
        action="store_true",
        default=None,
        help="let torchvision download missing datasets (needs a network)",
    )
    p.add_argument("--run-id")
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="set any run spec field, e.g. --set augment=false (repeatable)",
    )
    p.add_argument("--history", action="store_true", help="include the history in --json")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare word is a string


def _pairs(items: list[str], flag: str) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInput(f"{flag}: expected KEY=VALUE (got {item!r})")
        out[key.strip()] = _json_value(value)
    return out


def _policy(arg: str) -> dict[str, Any]:
    from workbench.policies import from_text

    text, path = arg.strip(), Path(arg)
    if not text.startswith("{") and path.suffix == ".json":
        if not path.is_file():
            raise BadInput(f"--policy: file {arg!r} not found")
        text = path.read_text()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"--policy: not valid JSON ({exc})") from None
    return from_text(text).to_spec()


def build_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The run spec dict from `--spec` and the flags (flags win)."""
    spec: dict[str, Any] = {}
    if args.spec:
        path = Path(args.spec)
        if not path.is_file():
            raise BadInput(f"--spec: file {args.spec!r} not found")
        try:
            spec = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise BadInput(f"--spec: {args.spec} is not valid JSON ({exc})") from None
        if not isinstance(spec, dict):
            raise BadInput(f"--spec: {args.spec} must hold a JSON object")
    for key, value in DEFAULTS.items():
        spec.setdefault(key, value)
    for attr, field in FIELDS.items():
        value = getattr(args, attr)
        if value is not None:
            spec[field] = value
    if args.optimizer:
        spec["optimizer"] = {"name": args.optimizer}
    if args.opt:
        spec["optimizer"] = {**_as_opt(spec["optimizer"]), **_pairs(args.opt, "--opt")}
    if args.policy:
        spec["policy"] = _policy(args.policy)
    if args.stop_at_target:
        spec["stop_at_target"] = True
    if args.download:
        spec["download"] = True
    spec.update(_pairs(args.set, "--set"))
    budget = spec.get("budget")
    if "eval_every" not in spec and isinstance(budget, int) and budget > 0:
        spec["eval_every"] = max(1, budget // EVALUATIONS)
    return spec


def _as_opt(value: Any) -> dict[str, Any]:
    return {"name": value} if isinstance(value, str) else dict(value)


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
