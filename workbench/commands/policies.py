"""`workbench policies list|show|plot`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workbench.cli import add_common, print_json
from workbench.errors import BadInput
from workbench.paths import store_path
from workbench.policies import FAMILIES, REGISTRY, Policy, by_family, catalog, from_spec, from_text


def _read_policy(arg: str) -> Policy:
    """A policy from a JSON spec, a text form, or a path to a JSON file."""
    text = arg.strip()
    path = Path(arg)
    if not text.startswith(("{", "[")) and path.suffix == ".json":
        if not path.is_file():
            raise BadInput(f"policy file {arg!r} not found")
        text = path.read_text()
    if text.startswith("{"):
        try:
            spec: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"policy: not valid JSON ({exc})") from None
        return from_spec(spec)
    return from_text(text)


def _list(args: argparse.Namespace) -> int:
    if args.json:
        print_json(catalog())
        return 0
    groups = by_family()
    for family in FAMILIES:
        print(f"{family}:")
        for name in groups[family]:
            fn = REGISTRY[name]
            print(f"  {name:<10} ({', '.join(fn.param_names)})  lr(t) = {fn.formula}")
    return 0


def _describe(policy: Policy) -> dict[str, Any]:
    return {
        "spec": policy.to_spec(),
        "hash": policy.hash,
        "short_hash": policy.short_hash,
        "text": policy.text,
        "functions": list(policy.functions),
        "families": [REGISTRY[f].family for f in policy.functions],
    }


def _show(args: argparse.Namespace) -> int:
    policy = _read_policy(args.policy)
    info = _describe(policy)
    if args.json:
        print_json(info)
        return 0
    print(f"text:  {info['text']}")
    print(f"spec:  {policy.canonical_json}")
    print(f"hash:  {info['hash']}")
    for name in policy.functions:
        print(f"       {REGISTRY[name].doc}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from workbench.policies.plot import plot_policies

    if args.budget < 1:
        raise BadInput(f"--budget must be a positive number of iterations (got {args.budget})")
    policies = [_read_policy(p) for p in args.policy]
    out = (
        Path(args.out) if args.out else store_path("plots", f"policy-{policies[0].short_hash}.png")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_policies(policies, args.budget, out, log=args.log)
    if args.json:
        print_json({"path": str(out.resolve()), "policies": [_describe(p) for p in policies]})
    else:
        print(f"wrote {out.resolve()}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `workbench policies …`."""
    parser = sub.add_parser("policies", help="LR functions and policies: list, show, plot")
    psub = parser.add_subparsers(dest="policies_command", metavar="ACTION", required=True)

    p = psub.add_parser("list", help="list the LR functions by family")
    add_common(p)
    p.set_defaults(func=_list)

    p = psub.add_parser("show", help="canonical form, hash and text form of a policy")
    p.add_argument("policy", help="a JSON spec, a text form, or a .json file")
    add_common(p)
    p.set_defaults(func=_show)

    p = psub.add_parser("plot", help="plot policies over a budget to a PNG")
    p.add_argument("policy", nargs="+", help="JSON specs, text forms, or .json files")
    p.add_argument("--budget", type=int, required=True, help="iterations to plot")
    p.add_argument("--out", help="PNG path (default: store/plots/policy-<hash>.png)")
    p.add_argument("--log", action="store_true", help="log-scale LR axis")
    add_common(p)
    p.set_defaults(func=_plot)
