"""Export/import of runs as JSON lines (non-finite numbers as strings), and `gc`."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import select, text

from workbench import jsonio, paths
from workbench.errors import BadInput
from workbench.store.models import POINT_KEYS, RUN_METRICS, RunRow, SearchRow

if TYPE_CHECKING:
    from workbench.store.store import Store

FORMAT = "workbench.run"
FORMAT_VERSION = 1
# Keys of an exported run that hold numbers and may be non-finite (decoded on import).
_NUMERIC = {
    *RUN_METRICS,
    *POINT_KEYS,
    "compute_fraction",
    "predicted_final",
    "heartbeat_at",
    "started_at",
    "ended_at",
}


@contextmanager
def _text_file(target: Any, mode: str) -> Iterator[IO[str]]:
    if isinstance(target, io.TextIOBase) or hasattr(target, "write" if "w" in mode else "read"):
        yield target
        return
    path = Path(target)
    try:
        with path.open(mode, encoding="utf-8") as f:
            yield f
    except FileNotFoundError:
        raise BadInput(f"no such file {str(path)!r}") from None


def export_runs(
    store: Store, dest: Any, run_ids: Sequence[str] | None = None, **filters: Any
) -> int:
    """Write runs (all, `run_ids`, or `Store.runs` filters) as JSON lines; returns the count."""
    if run_ids is None:
        df = store.runs(**filters)
        run_ids = list(df["run_id"])[::-1]  # oldest first
    n = 0
    with _text_file(dest, "w") as f:
        for rid in run_ids:
            rec = store.run(rid)
            rec["format"], rec["format_version"] = FORMAT, FORMAT_VERSION
            f.write(jsonio.dumps(rec, sort_keys=True) + "\n")
            n += 1
    return n


def import_runs(store: Store, source: Any, *, replace: bool = False) -> dict[str, int]:
    """Read JSON-lines runs; a run already present is skipped (or replaced with `replace`)."""
    imported = skipped = 0
    with _text_file(source, "r") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = jsonio.decode_nonfinite(json.loads(line), _NUMERIC)
            except ValueError as exc:
                raise BadInput(f"line {lineno} is not JSON: {exc}") from None
            if rec.get("format", FORMAT) != FORMAT or not rec.get("run_id"):
                raise BadInput(f"line {lineno} is not an exported workbench run")
            if int(rec.get("format_version", 1)) > FORMAT_VERSION:
                raise BadInput(
                    f"line {lineno}: export format {rec['format_version']} is newer "
                    "than this version reads; upgrade lr-workbench"
                )
            with store.session() as s:
                exists = s.get(RunRow, rec["run_id"]) is not None
            if exists and not replace:
                skipped += 1
                continue
            _import_one(store, rec)
            imported += 1
    return {"imported": imported, "skipped": skipped}


def _import_one(store: Store, rec: dict[str, Any]) -> None:
    spec = dict(rec.get("spec") or {})
    spec.setdefault("budget", rec.get("budget"))
    run_id = store.begin_run(
        spec,
        run_id=rec["run_id"],
        task=rec.get("task") or spec,
        policy=rec.get("policy") or spec.get("policy"),
        provenance=rec.get("provenance"),
        started_at=rec.get("started_at"),
        kind=rec.get("kind"),
        job_id=rec.get("job_id"),
        search_id=rec.get("search_id"),
        tags=rec.get("tags"),
    )
    result = {
        k: rec.get(k)
        for k in (
            "status",
            "stop_reason",
            "iterations",
            "iterations_to_target",
            "error",
            "ended_at",
            *RUN_METRICS,
        )
        if k in rec
    }
    result.pop("target", None)
    store.finish_run(run_id, result, points=rec.get("history") or ())
    with store.session(write=True) as s:
        # Keep the original timestamps and an honest status for a run exported mid-way.
        s.execute(
            RunRow.__table__.update()
            .where(RunRow.run_id == run_id)
            .values(
                heartbeat_at=rec.get("heartbeat_at"),
                ended_at=rec.get("ended_at"),
                status=rec.get("status") or "interrupted",
            )
        )
    for v in rec.get("verdicts") or ():
        v = {k: val for k, val in v.items() if k not in ("id", "run_id", "created_at")}
        store.record_verdict(run_id, v)


_ID = re.compile(r"^[0-9a-f]{16,64}$")


def gc(store: Store, *, dry_run: bool = False) -> dict[str, Any]:
    """Remove checkpoint folders of runs/searches that are gone or ended, then VACUUM."""
    root = paths.store_root() / "checkpoints"
    with store.session() as s:
        live_runs = set(
            s.execute(select(RunRow.run_id).where(RunRow.status == "running")).scalars()
        )
        known_runs = set(s.execute(select(RunRow.run_id)).scalars())
        searches = {
            sid: (status, keep)
            for sid, status, keep in s.execute(
                select(SearchRow.search_id, SearchRow.status, SearchRow.keep_checkpoints)
            )
        }
    removed, freed = [], 0
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        name = folder.name
        if not folder.is_dir() or not _ID.match(name) or name in live_runs:
            continue
        # Only folders of searches known to have ended: a search still going may not be
        # recorded yet, and a run's checkpoints go with `delete_runs`.
        status, keep = searches.get(name, ("unknown", True))
        if keep or status == "running" or name in known_runs:
            continue
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        removed.append(str(folder))
        freed += size
        if not dry_run:
            shutil.rmtree(folder, ignore_errors=True)
    vacuumed = False
    if not dry_run:
        vacuumed = _vacuum(store)
    return {"removed": removed, "bytes_freed": freed, "vacuumed": vacuumed, "dry_run": dry_run}


def _vacuum(store: Store) -> bool:
    # VACUUM cannot run inside a transaction: use an autocommit connection.
    if store.backend == "sqlite":
        with store._lock:
            raw = store.engine.raw_connection()
            try:  # our SQLite connections are in autocommit mode at the driver level
                cur = raw.cursor()
                cur.execute("VACUUM")
                cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cur.close()
            finally:
                raw.close()
        return True
    if store.backend == "postgresql":
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        return True
    return False


__all__ = ["export_runs", "gc", "import_runs"]
