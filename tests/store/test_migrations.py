"""Schema versions: migrations match the models, and a v1 database with rows upgrades."""

from __future__ import annotations

import math

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from workbench.errors import BadInput
from workbench.store import engine, migrate, open_store
from workbench.store.models import SQLModel

FIRST = "0001"


def _url(kind: str, tmp_path, request) -> str:
    if kind == "file":
        return f"sqlite:///{tmp_path / 'v1.sqlite'}"
    return request.getfixturevalue("pg_databases")()


@pytest.fixture(params=["file", "postgres"])
def fresh_url(request, tmp_path) -> str:
    url = _url(request.param, tmp_path, request)
    yield url
    engine.forget_engine(url)


def test_revisions_start_at_schema_v1() -> None:
    assert migrate.revisions()[0] == FIRST
    assert migrate.head() == migrate.revisions()[-1]


def test_migrations_create_exactly_the_models(fresh_url: str) -> None:
    store = open_store(fresh_url)
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == migrate.VERSION_TABLE)]
    assert diff == []


# Rows as schema v1 writes them, in plain SQL so this test keeps meaning v1 when models change.
V1_ROWS = [
    "INSERT INTO policies (hash, spec, label, text, functions, n_stages, created_at) VALUES "
    "('p1', '{\"function\": \"FIX\", \"k0\": 0.05}', 'fixed', 'FIX(k0=0.05)', ',FIX,', 1, 1.0)",
    "INSERT INTO tasks (id, dataset, model, optimizer, optimizer_settings, batch_size, "
    "created_at) VALUES ('t1', 'mnist1d', 'cnn1d', 'sgd', '{}', 64, 1.0)",
    "INSERT INTO runs (run_id, kind, task_id, policy_hash, budget, seed, status, iterations, "
    "final_top1, final_top1_kind, robustness_gap, robustness_gap_kind, started_at, ended_at, "
    "heartbeat_at, n_points, spec, created_at) VALUES ('r1', 'train', 't1', 'p1', 100, 0, "
    "'diverged', 100, NULL, 1, NULL, 2, 10.0, 20.0, 20.0, 2, "
    '\'{"budget": 100, "seed": 0}\', 10.0)',
    "INSERT INTO eval_points (run_id, iteration, lr, train_loss, train_loss_kind, val_top1) "
    "VALUES ('r1', 0, 0.05, 2.3, 0, 0.1)",
    "INSERT INTO eval_points (run_id, iteration, lr, train_loss, train_loss_kind, val_top1) "
    "VALUES ('r1', 100, 0.05, NULL, 1, 0.1)",
    "INSERT INTO verdicts (run_id, verdict, iteration, rule, shadow, created_at) "
    "VALUES ('r1', 'diverged', 100, 'divergence', false, 30.0)",
    "INSERT INTO sweeps (name, created_at) VALUES ('sw', 1.0)",
    "INSERT INTO jobs (job_id, sweep, status, attempts, created_at, updated_at) "
    "VALUES ('j1', 'sw', 'done', 1, 1.0, 2.0)",
]


def test_a_v1_database_with_rows_upgrades(fresh_url: str) -> None:
    eng = engine.get_engine(fresh_url)
    assert migrate.migrate(eng, fresh_url, FIRST) == FIRST
    with eng.begin() as conn:
        for sql in V1_ROWS:
            conn.execute(text(sql))
    engine.forget_engine(fresh_url)
    store = open_store(fresh_url, upgrade=True)
    assert store.info()["revision"] == migrate.head()
    run = store.run("r1")
    assert run["status"] == "diverged" and math.isnan(run["final_top1"])
    assert run["robustness_gap"] == math.inf and run["policy_label"] == "fixed"
    assert [p["iteration"] for p in run["history"]] == [0, 100]
    assert math.isnan(run["history"][1]["train_loss"]) and run["history"][0]["train_loss"] == 2.3
    assert run["verdicts"][0]["rule"] == "divergence"
    assert store.job("j1")["status"] == "done"
    assert store.info()["rows"]["eval_points"] == 2


def test_an_older_schema_is_refused_until_upgraded(fresh_url: str, monkeypatch) -> None:
    eng = engine.get_engine(fresh_url)
    migrate.migrate(eng, fresh_url, FIRST)
    with eng.begin() as conn:
        conn.execute(text(V1_ROWS[0]))
    engine.forget_engine(fresh_url)
    # Pretend this version knows a newer revision than the database's.
    monkeypatch.setattr(migrate, "head", lambda: "0002_future")
    monkeypatch.setattr(migrate, "revisions", lambda: [FIRST, "0002_future"])
    with pytest.raises(BadInput, match="older store schema") as err:
        open_store(fresh_url)
    assert "workbench db upgrade" in str(err.value) and "nothing was changed" in str(err.value)
    monkeypatch.undo()
    engine.forget_engine(fresh_url)
    store = open_store(fresh_url)
    assert store.info()["rows"]["policies"] == 1


def test_concurrent_first_opens_create_the_schema_once(tmp_path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    code = "import sys; from workbench.store import open_store; open_store(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate()[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    assert open_store(url).info()["state"] == "current"
