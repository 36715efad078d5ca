"""The run spec flags of `workbench train`, `recommend` and `verify`, and the spec they build."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

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
# Flags about one training run (its policy, stop, download, id, checkpoints): commands that
# train many runs leave them out and get None for them, so `build_spec` serves them too.
RUN_ONLY = ("policy", "stop_at_target", "download", "run_id", "checkpoint_every")
EVAL_EVERY_HELP = f"iterations between evaluations (default budget/{EVALUATIONS})"
SET_HELP = "set any run spec field, e.g. --set augment=false (repeatable)"


def _add_pairs(p: argparse.ArgumentParser, flag: str, metavar: str, help: str) -> None:
    """A repeatable KEY=VALUE flag (parsed by `_pairs`)."""
    p.add_argument(flag, action="append", default=[], metavar=metavar, help=help)


def add_spec_flags(
    p: argparse.ArgumentParser,
    *,
    run_flags: bool = True,
    eval_every_help: str = EVAL_EVERY_HELP,
    set_help: str = SET_HELP,
) -> None:
    """Add `--spec`, the run spec field flags, `--opt` and `--set` (what `build_spec` reads).

    Without `run_flags` the flags of RUN_ONLY are left out and default to None.
    """
    p.add_argument("--spec", metavar="FILE", help="run spec (JSON file)")
    p.add_argument("--dataset")
    p.add_argument("--model")
    p.add_argument("--optimizer", metavar="NAME", help="optimizer name (default momentum)")
    _add_pairs(
        p, "--opt", "KEY=VALUE", "optimizer setting, e.g. --opt weight_decay=5e-4 (repeatable)"
    )
    if run_flags:
        p.add_argument(
            "--policy", metavar="SPEC", help="policy: JSON spec, text form, or a .json file"
        )
    p.add_argument("--batch-size", type=int, help="default 64")
    p.add_argument("--budget", type=int, help="iterations")
    p.add_argument("--eval-every", type=int, help=eval_every_help)
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--target", type=float, help="target validation top-1 (fraction)")
    if run_flags:
        p.add_argument("--stop-at-target", action="store_true", default=None)
    p.add_argument("--subset", type=int, help="training examples to keep")
    p.add_argument("--eval-subset", type=int, help="validation/test examples to keep")
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--device")
    p.add_argument("--threads", type=int)
    p.add_argument("--data-root")
    if run_flags:
        p.add_argument(
            "--download",
            action="store_true",
            default=None,
            help="let torchvision download missing datasets (needs a network)",
        )
        p.add_argument("--run-id")
        p.add_argument("--checkpoint-every", type=int)
    else:
        p.set_defaults(**dict.fromkeys(RUN_ONLY))
    _add_pairs(p, "--set", "FIELD=JSON", set_help)


def flag_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The run spec fields given by one-to-one flags (those of FIELDS this parser has)."""
    out = {}
    for attr, field in FIELDS.items():
        value = getattr(args, attr, None)
        if value is not None:
            out[field] = value
    return out


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


def _as_opt(value: Any) -> dict[str, Any]:
    return {"name": value} if isinstance(value, str) else dict(value)


def build_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The run spec dict from `--spec` and the flags of `add_spec_flags` (flags win)."""
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
    spec.update(flag_fields(args))
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
