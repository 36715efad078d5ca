"""Opening the store: where the URL comes from, one engine per URL, and bad input."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.store.fakes import fake_train, make_spec
from workbench import cli, paths
from workbench.errors import BadInput
from workbench.store import Recorder, engine, migrate, open_store


def test_url_from_argument_then_env_then_default(monkeypatch, tmp_path) -> None:
    default = open_store()
    assert default.url == f"sqlite:///{paths.store_root() / 'workbench.sqlite'}"
    assert (paths.store_root() / "workbench.sqlite").exists()
    env_file = tmp_path / "env.sqlite"
    monkeypatch.setenv("WORKBENCH_DB_URL", f"sqlite:///{env_file}")
    assert open_store().url == f"sqlite:///{env_file}"
    flag = tmp_path / "flag.sqlite"
    assert open_store(f"sqlite:///{flag}").url == f"sqlite:///{flag}"


def test_relative_paths_become_absolute(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    assert engine.resolve_url("sqlite:///rel.sqlite") == f"sqlite:///{tmp_path / 'rel.sqlite'}"
    assert engine.resolve_url("plain.sqlite") == f"sqlite:///{tmp_path / 'plain.sqlite'}"


def test_one_engine_per_process_and_url(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    assert open_store(url).engine is open_store(url).engine
    assert open_store(url).engine is not open_store(f"sqlite:///{tmp_path / 'b.sqlite'}").engine


def test_sqlite_file_is_in_wal_mode_with_busy_timeout(tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with store.session() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.parametrize(
    "url, needle",
    [
        ("postgresql+psycopg://bob:s3cret@host:port/db", "malformed"),
        ("nosuchdb://bob:s3cret@host/db", "unsupported"),
        ("postgresql+psycopg://bob:s3cret@127.0.0.1:1/db", "cannot open"),
    ],
)
def test_bad_urls_name_the_url_but_not_the_password(url: str, needle: str) -> None:
    with pytest.raises(BadInput) as err:
        open_store(url)
    msg = str(err.value)
    assert needle in msg and "s3cret" not in msg and "bob" in msg
    assert "What to do" in msg or "Use " in msg


def test_missing_folder(tmp_path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'no' / 'such' / 'x.sqlite'}")


def test_read_only_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "ro.sqlite"
    open_store(f"sqlite:///{path}").dispose()
    path.chmod(0o444)
    # As root, permissions do not stop writes: make the check see what a user would.
    real = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode: False if Path(p) == path and mode == os.W_OK else real(p, mode),
    )
    with pytest.raises(BadInput, match="read-only") as err:
        open_store(f"sqlite:///{path}")
    assert str(path) in str(err.value) and "What to do" in str(err.value)


def test_read_only_connection_write_is_bad_input(tmp_path) -> None:
    path = tmp_path / "ro2.sqlite"
    open_store(f"sqlite:///{path}").dispose()
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    store = open_store(url)  # reading works
    assert store.runs().empty
    with pytest.raises(BadInput, match="read") as err:
        store.save_policy({"function": "FIX", "k0": 0.1})
    assert str(path) in str(err.value)


def _stamp(url: str, revision: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute(f"UPDATE {migrate.VERSION_TABLE} SET version_num = ?", (revision,))


def test_newer_schema_is_refused(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    fake_train(Recorder(open_store(url)), make_spec(), [0.1, 0.2])
    engine.forget_engine(url)
    _stamp(url, "9999_from_the_future")
    with pytest.raises(BadInput, match="newer LR Workbench") as err:
        open_store(url)
    assert "upgrade the lr-workbench package" in str(err.value) and url in str(err.value)
    with pytest.raises(BadInput, match="newer"):
        open_store(url, upgrade=True)
    assert cli.main(["db", "upgrade", "--db", url]) == 2


def test_tables_without_a_version_are_refused(tmp_path) -> None:
    path = tmp_path / "foreign.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER)")
    with pytest.raises(BadInput, match="no LR Workbench schema"):
        open_store(f"sqlite:///{path}")


def test_pg_database_missing_is_bad_input(pg_url: str) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/wb_no_such_database"
    with pytest.raises(BadInput, match="does not exist"):
        open_store(url)


# --- command line -----------------------------------------------------------------------------


def _json(capsys) -> object:
    return json.loads(capsys.readouterr().out)


def test_cli_runs_list_show_export_import_delete_reap(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    store = open_store(url)
    rec = Recorder(store)
    runs = [
        fake_train(rec, make_spec(seed=s), [0.1, float("nan")], status="diverged") for s in range(2)
    ]
    assert cli.main(["runs", "list", "--db", url, "--json"]) == 0
    items = _json(capsys)
    assert len(items) == 2
    for item in items:
        assert {"run_id", "status", "policy_hash", "final_top1"} <= set(item)
        assert item["final_top1"] == "NaN" and item["status"] == "diverged"
    assert cli.main(["runs", "list", "--db", url, "--status", "completed", "--json"]) == 0
    assert _json(capsys) == []
    assert cli.main(["runs", "list", "--db", url]) == 0
    assert runs[0].run_id[:12] in capsys.readouterr().out
    assert cli.main(["runs", "show", runs[0].run_id[:8], "--db", url, "--json"]) == 0
    shown = _json(capsys)
    assert shown["run_id"] == runs[0].run_id and len(shown["history"]) == 2
    assert shown["history"][1]["val_top1"] == "NaN"
    out = tmp_path / "runs.jsonl"
    assert cli.main(["runs", "export", "--db", url, "-o", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 2
    assert cli.main(["runs", "delete", runs[0].run_id, "--db", url, "--json"]) == 0
    assert _json(capsys)["deleted"] == 1
    assert cli.main(["runs", "import", str(out), "--db", url, "--json"]) == 0
    assert _json(capsys) == {"imported": 1, "skipped": 1}
    assert cli.main(["runs", "reap", "--db", url, "--json"]) == 0
    assert _json(capsys) == {"reaped": []}
    assert cli.main(["runs", "show", "zzzzzzzz", "--db", url]) == 2
    assert "no run" in capsys.readouterr().err


def test_cli_db_and_store(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert cli.main(["db", "info", "--db", url, "--json"]) == 0
    assert _json(capsys)["state"] == "missing"
    assert cli.main(["db", "upgrade", "--db", url, "--json"]) == 0
    up = _json(capsys)
    assert up["from"] is None and up["to"] == migrate.head()
    assert cli.main(["db", "info", "--db", url, "--json"]) == 0
    info = _json(capsys)
    assert info["state"] == "current" and info["rows"]["runs"] == 0
    # gc removes the checkpoints of ended searches only (kept ones and unknown ones stay).
    store = open_store(url)
    store.record_search({"search_id": "a" * 32, "status": "done"})
    store.record_search({"search_id": "b" * 32, "status": "done", "keep_checkpoints": True})
    for name in ("a" * 32, "b" * 32, "c" * 32):
        folder = paths.store_root() / "checkpoints" / name
        folder.mkdir(parents=True)
        (folder / "state.pt").write_bytes(b"x" * 100)
    assert cli.main(["store", "gc", "--db", url, "--dry-run", "--json"]) == 0
    dry = _json(capsys)
    assert len(dry["removed"]) == 1 and (paths.store_root() / "checkpoints" / ("a" * 32)).exists()
    assert cli.main(["store", "gc", "--db", url, "--json"]) == 0
    done = _json(capsys)
    assert done["bytes_freed"] == 100 and done["vacuumed"]
    assert not (paths.store_root() / "checkpoints" / ("a" * 32)).exists()
    assert (paths.store_root() / "checkpoints" / ("b" * 32)).exists()
    assert cli.main(["db", "info", "--db", "postgresql+psycopg://u:pw@127.0.0.1:1/x"]) == 2
    err = capsys.readouterr().err
    assert "pw" not in err.replace("psycopg", "") and "127.0.0.1:1" in err
