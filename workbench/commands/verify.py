"""`workbench verify`: does a policy reach the target within the budget?"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

from workbench.cli import add_common, print_json
from workbench.commands.runspec import DEFAULTS, flag_fields
from workbench.errors import BadInput

RULE_SETS = ("default", "never")


def _json_or_text(arg: str, what: str) -> Any:
    """A JSON value, a JSON file, or (for policies) the compact text form."""
    text = arg.strip()
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{what}: not valid JSON ({exc})") from None
    if text.endswith(".json"):
        path = Path(text)
        if not path.is_file():
            raise BadInput(f"{what} file {text!r} not found")
        return json.loads(path.read_text())
    if what == "policy":
        from workbench.policies import from_text

        return from_text(text).to_spec()
    return text


def _spec(args: argparse.Namespace) -> dict[str, Any]:
    """The run spec: `--spec` (a file or JSON) with the flags on top."""
    spec: dict[str, Any] = {}
    if args.spec:
        from workbench.verify.core import _as_mapping

        spec = _as_mapping(args.spec)
    spec.update(flag_fields(args))
    if args.optimizer is not None:
        opt = _json_or_text(args.optimizer, "optimizer")
        spec["optimizer"] = opt if isinstance(opt, dict) else {"name": opt}
    if args.policy is not None:
        spec["policy"] = _json_or_text(args.policy, "policy")
    # The same defaults as `workbench train` (optimizer, batch size, seed).
    for key, value in DEFAULTS.items():
        spec.setdefault(key, copy.deepcopy(value))
    missing = [
        k
        for k in ("dataset", "model", "optimizer", "policy", "batch_size", "budget", "eval_every")
        if k not in spec
    ]
    if missing:
        flags_named = ", ".join("--" + k.replace("_", "-") for k in missing)
        raise BadInput(f"verify: missing {flags_named} (or give them in --spec)")
    return spec


def _rules(name: str) -> list[Any] | None:
    from workbench.verify import NeverStop, default_rules

    if name == "never":
        return [NeverStop()]
    return default_rules()


def _store(url: str | None, use: bool) -> Any:
    if not use:
        return None
    try:
        from workbench.store import open_store
    except ImportError:
        return None
    return open_store(url)


def _verify(args: argparse.Namespace) -> int:
    from workbench.verify import verify

    spec = _spec(args)
    store = _store(args.db, not args.no_store)
    verdict = verify(
        spec,
        rules=_rules(args.rules),
        store=store,
        shadow=args.shadow,
        progress=not args.json and sys.stderr.isatty(),
    )
    out = verdict.to_dict(with_run=args.with_run)
    if args.json:
        print_json(out)
        return 0
    line = (
        f"verdict: {out['verdict']}  iteration: {out['iteration']}  "
        f"compute: {out['compute_fraction']:.0%} of {out['budget']}"
    )
    if out["rule"]:
        line += f"  rule: {out['rule']}"
    print(line)
    if out["evidence"].get("reason"):
        print(f"why: {out['evidence']['reason']}")
    for d in out["decisions"] if args.shadow else []:
        print(f"  would stop at {d['iteration']}: {d['rule']} — {d['reason']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `workbench verify`."""
    p = sub.add_parser(
        "verify",
        help="verify that a policy reaches a target accuracy within a budget",
        description="Train under the stop rules: meets | fails | rejected | diverged | "
        "interrupted, with the compute used.",
    )
    p.add_argument("--spec", help="run spec (JSON file or JSON text); flags override it")
    p.add_argument("--dataset")
    p.add_argument("--model")
    p.add_argument("--optimizer", help='a name or JSON, e.g. {"name": "momentum"}')
    p.add_argument("--policy", help="a policy spec (JSON, file) or its text form")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--budget", type=int, help="iterations")
    p.add_argument("--eval-every", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--subset", type=int, help="use only this many training examples")
    p.add_argument("--target", type=float, help="validation top-1 to reach, in (0, 1]")
    p.add_argument("--rules", choices=RULE_SETS, default="default")
    p.add_argument(
        "--shadow",
        action="store_true",
        help="run the whole budget; log when each rule would have stopped",
    )
    p.add_argument("--no-store", action="store_true", help="do not record the run")
    p.add_argument("--with-run", action="store_true", help="include the run result")
    add_common(p)
    p.set_defaults(func=_verify)
