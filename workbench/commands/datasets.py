"""`workbench datasets list`: the registered datasets and whether they are available."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli import add_common, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `workbench datasets list`."""
    p = subparsers.add_parser("datasets", help="datasets: list")
    sub = p.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)
    lst = sub.add_parser("list", help="registered datasets and where local files go")
    add_common(lst)
    lst.add_argument("--data-root", help="folder of local datasets (default: the data root)")
    lst.set_defaults(func=list_datasets)


def dataset_rows(data_root: str | None = None) -> list[dict[str, Any]]:
    """One row per registered dataset: facts, availability, files still missing."""
    from workbench.paths import data_root as default_root
    from workbench.train import DATASETS, compatible_models

    root = Path(data_root).expanduser().resolve() if data_root else default_root()
    rows = []
    for name, entry in DATASETS.items():
        missing = entry.missing(root)
        rows.append(
            {
                "name": name,
                "description": entry.description,
                "input_shape": list(entry.input_shape),
                "num_classes": entry.num_classes,
                "offline": entry.offline,
                "available": not missing,
                "missing_files": [str(p) for p in missing],
                "models": compatible_models(entry.input_shape),
            }
        )
    return rows


def list_datasets(args: argparse.Namespace) -> int:
    """Handler of `workbench datasets list`."""
    rows = dataset_rows(args.data_root)
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        shape = "×".join(map(str, r["input_shape"]))
        state = "available" if r["available"] else f"missing {len(r['missing_files'])} file(s)"
        print(f"{r['name']:<16} {shape:<9} {r['num_classes']:>3} classes  {state}")
        print(f"{'':<16} {r['description']}")
        print(f"{'':<16} models: {', '.join(r['models'])}")
        if r["missing_files"]:
            print(f"{'':<16} place the files in {Path(r['missing_files'][0]).parent}")
    return 0
