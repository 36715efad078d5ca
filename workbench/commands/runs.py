"""`workbench runs list|show|export|import|delete|reap`, `workbench db upgrade|info`,
`workbench store gc`: thin wrappers over `workbench.store`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench import jsonio
from workbench.cli import add_common, print_json
from workbench.errors import BadInput

LIST_COLUMNS = (
    "run_id",
    "kind",
    "status",
    "dataset",
    "model",
    "optimizer",
    "policy_text",
    "seed",
    "iterations",
    "final_top1",
    "iterations_to_target",
)


def register(subparsers: Any) -> None:
    """Add the `runs`, `db` and `store` commands."""
    _register_runs(subparsers)
    _register_db(subparsers)
    _register_store(subparsers)


def _register_runs(subparsers: Any) -> None:
    runs = subparsers.add_parser("runs", help="list, show, export, import, delete, reap runs")
    sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list runs, newest first")
    add_common(p)
    p.add_argument("--status", action="append", help="only this status (repeatable)")
    p.add_argument("--kind", action="append", help="only this kind (repeatable)")
    p.add_argument("--policy", help="policy hash, hash prefix or label")
    p.add_argument("--dataset")
    p.add_argument("--model")
    p.add_argument("--optimizer")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--no-probes", action="store_true", help="leave out search probes")
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(func=_runs_list)

    p = sub.add_parser("show", help="one run with its points and verdicts")
    add_common(p)
    p.add_argument("run_id", help="run id or a unique prefix")
    p.add_argument("--no-points", action="store_true", help="leave out the evaluation points")
    p.set_defaults(func=_runs_show)

    p = sub.add_parser("export", help="write runs as JSON lines")
    add_common(p, json_flag=False)
    p.add_argument("run_ids", nargs="*", help="runs to export (default: all)")
    p.add_argument("-o", "--out", default="-", help="output file (default: stdout)")
    p.set_defaults(func=_runs_export)

    p = sub.add_parser("import", help="read runs from JSON lines")
    add_common(p)
    p.add_argument("path", help="a file written by `workbench runs export` (- for stdin)")
    p.add_argument("--replace", action="store_true", help="replace runs already present")
    p.set_defaults(func=_runs_import)

    p = sub.add_parser("delete", help="delete runs with their points and verdicts")
    add_common(p)
    p.add_argument("run_ids", nargs="+", help="run ids or unique prefixes")
    p.set_defaults(func=_runs_delete)

    p = sub.add_parser("reap", help="mark stale `running` runs as interrupted")
    add_common(p)
    p.add_argument(
        "--older-than",
        type=float,
        default=None,
        metavar="SECONDS",
        help="heartbeat age that counts as stale (default: a few eval intervals)",
    )
    p.set_defaults(func=_runs_reap)


def _register_db(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="the results database: schema upgrade and info")
    sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    p = sub.add_parser("upgrade", help="create or upgrade the schema to this version's newest")
    add_common(p)
    p.set_defaults(func=_db_upgrade)
    p = sub.add_parser("info", help="URL (password hidden), backend, schema revision, row counts")
    add_common(p)
    p.set_defaults(func=_db_info)


def _register_store(subparsers: Any) -> None:
    store = subparsers.add_parser("store", help="store housekeeping")
    sub = store.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    p = sub.add_parser("gc", help="remove ended searches' checkpoints, then VACUUM")
    add_common(p)
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.set_defaults(func=_store_gc)


# --- handlers ----------------------------------------------------------------------------


def _open(args: argparse.Namespace, **kw: Any) -> Any:
    from workbench.store import open_store

    return open_store(args.db, **kw)


def _runs_list(args: argparse.Namespace) -> int:
    from workbench.store.queries import run_records

    task = {
        k: v
        for k, v in (
            ("dataset", args.dataset),
            ("model", args.model),
            ("optimizer", args.optimizer),
            ("batch_size", args.batch_size),
        )
        if v is not None
    }
    records = run_records(
        _open(args),
        task=task or None,
        policy=args.policy,
        status=args.status,
        kind=args.kind,
        include_probes=not args.no_probes,
        limit=args.limit,
    )
    if args.json:
        print_json(records)
        return 0
    if not records:
        print("no runs")
        return 0
    _print_table([[_cell(r.get(c)) for c in LIST_COLUMNS] for r in records], LIST_COLUMNS)
    return 0


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    s = str(v)
    return s[:12] if len(s) == 32 and s.isalnum() else s[:48]


def _print_table(rows: list[list[str]], header: tuple[str, ...]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def _runs_show(args: argparse.Namespace) -> int:
    run = _open(args).run(args.run_id, points=not args.no_points)
    if args.json:
        print_json(run)
        return 0
    skip = {"history", "spec", "provenance", "verdicts", "policy", "task"}
    for k, v in run.items():
        if k not in skip:
            print(f"{k:22} {_show(v, k)}")
    for k in ("task", "policy", "spec", "provenance"):
        print(f"{k:22} {jsonio.dumps(run.get(k))}")
    for v in run.get("verdicts") or ():
        print(
            f"verdict                {v['verdict']} at {v.get('iteration')} (rule {v.get('rule')})"
        )
    hist = run.get("history")
    if hist:
        print(f"points                 {len(hist)}")
        cols = ("iteration", "lr", "train_loss", "val_loss", "val_top1", "test_top1")
        _print_table([[_cell(p.get(c)) for c in cols] for p in hist], cols)
    return 0


def _show(v: Any, key: str = "") -> str:
    if key.endswith("_at") and isinstance(v, int | float):
        stamp = datetime.fromtimestamp(v, tz=UTC)
        return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{v:.6g}" if isinstance(v, float) else "-" if v is None else str(v)


def _runs_export(args: argparse.Namespace) -> int:
    store = _open(args)
    ids = args.run_ids or None
    if args.out == "-":
        n = store.export_runs(sys.stdout, ids)
    else:
        n = store.export_runs(args.out, ids)
        print(f"exported {n} runs to {args.out}", file=sys.stderr)
    return 0


def _runs_import(args: argparse.Namespace) -> int:
    store = _open(args)
    counts = store.import_runs(sys.stdin if args.path == "-" else args.path, replace=args.replace)
    if args.json:
        print_json(counts)
    else:
        print(f"imported {counts['imported']} runs, skipped {counts['skipped']} already present")
    return 0


def _runs_delete(args: argparse.Namespace) -> int:
    store = _open(args)
    ids = [store.resolve_run_id(r) for r in args.run_ids]
    n = store.delete_runs(ids)
    if args.json:
        print_json({"deleted": n, "run_ids": ids})
    else:
        print(f"deleted {n} runs")
    return 0


def _runs_reap(args: argparse.Namespace) -> int:
    if args.older_than is not None and args.older_than < 0:
        raise BadInput("--older-than must be ≥ 0 seconds")
    ids = _open(args).reap(older_than=args.older_than)
    if args.json:
        print_json({"reaped": ids})
    else:
        print(f"marked {len(ids)} runs interrupted" + (": " + " ".join(ids) if ids else ""))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from workbench.store import engine, migrate

    url = engine.resolve_url(args.db)
    eng = engine.get_engine(url)
    before = migrate.info(eng, url)
    if before["state"] in ("newer", "foreign"):
        _open(args)  # raises the explanatory BadInput
    store = _open(args, upgrade=True)
    after = store.info()
    out = {
        "url": after["url"],
        "from": before["revision"],
        "to": after["revision"],
        "state": after["state"],
    }
    if args.json:
        print_json(out)
    else:
        print(f"{out['url']}: schema {out['from'] or 'empty'} -> {out['to']}")
    return 0


def _db_info(args: argparse.Namespace) -> int:
    from workbench.store import engine, migrate

    url = engine.resolve_url(args.db)
    parsed = engine.parse_url(url)
    file = engine.is_sqlite(parsed) and not engine.is_memory(parsed)
    if file and not Path(parsed.database).exists():  # report, but do not create the file
        info = {
            "url": engine.redact(url),
            "backend": "sqlite",
            "state": "missing",
            "revision": None,
            "head": migrate.head(),
            "rows": {},
        }
        print_json(info) if args.json else print(f"{info['url']}: no database file yet")
        return 0
    info = migrate.info(engine.get_engine(url), url)
    if args.json:
        print_json(info)
    else:
        for k, v in info.items():
            print(f"{k:9} {v}")
    return 0


def _store_gc(args: argparse.Namespace) -> int:
    out = _open(args).gc(dry_run=args.dry_run)
    if args.json:
        print_json(out)
    else:
        verb = "would remove" if args.dry_run else "removed"
        print(
            f"{verb} {len(out['removed'])} checkpoint folders ({out['bytes_freed']} bytes)"
            + ("; vacuumed" if out["vacuumed"] else "")
        )
    return 0
