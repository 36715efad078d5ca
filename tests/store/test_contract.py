"""The store's contract, run on every backend (in-memory SQLite, file SQLite, PostgreSQL)."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.store.fakes import FakeRun, fake_train, make_point, make_result, make_spec
from workbench.errors import BadInput
from workbench.policies import from_spec
from workbench.store import Recorder, RunNotFound, Store, job_id_for, task_id

COS = {"function": "COS", "k0": 0.001, "k1": 0.1, "l": 1000}
FIX = {"function": "FIX", "k0": 0.05}


def test_open_creates_the_newest_schema(store: Store) -> None:
    info = store.info()
    assert info["state"] == "current"
    assert info["revision"] == info["head"]
    assert info["rows"]["runs"] == 0


def test_recorder_writes_the_run_as_it_goes(store: Store) -> None:
    rec = Recorder(store)
    run = FakeRun(spec=make_spec())
    rec.on_run_start(run)
    row = store.run(run.run_id)
    assert row["status"] == "running" and row["history"] == []
    assert row["policy"] == FIX and row["task"]["optimizer"]["momentum"] == 0.9
    for i in range(3):
        point = make_point(i * 100, 0.3 + 0.1 * i)
        run.history.append(point)
        assert rec.on_eval(run, point) is None
    rec.flush()
    row = store.run(run.run_id)
    assert row["status"] == "running"
    assert [p["iteration"] for p in row["history"]] == [0, 100, 200]
    assert row["heartbeat_at"] >= row["started_at"]
    rec.on_run_end(run, make_result(run, status="stopped", stop_reason="user"))
    row = store.run(run.run_id)
    assert row["status"] == "stopped" and row["stop_reason"] == "user"
    assert row["iterations"] == 200 and row["n_points"] == 3
    assert row["final_top1"] == pytest.approx(0.5)
    assert row["history"][1] == make_point(100, 0.4)
    assert not rec.errors


def test_points_arriving_quickly_share_transactions(store: Store) -> None:
    rec = Recorder(store, flush_interval=3600)
    run = fake_train(rec, make_spec(), [0.1 * i for i in range(10)])
    assert store.run(run.run_id)["n_points"] == 10
    assert rec.stats["points"] == 10 and 1 <= rec.stats["transactions"] <= 2
    assert rec.stats["callback_seconds"] > 0 and not rec.errors


def test_late_points_in_the_result_are_kept(store: Store) -> None:
    rec = Recorder(store)
    run = FakeRun(spec=make_spec())
    rec.on_run_start(run)
    run.history = [make_point(0, 0.1), make_point(100, 0.2)]  # on_eval never called
    rec.on_run_end(run, make_result(run))
    assert len(store.run(run.run_id)["history"]) == 2


NONFINITE = [math.nan, math.inf, -math.inf]


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_nonfinite_values_round_trip(store: Store) -> None:
    rec = Recorder(store)
    run = FakeRun(spec=make_spec())
    rec.on_run_start(run)
    for i, bad in enumerate(NONFINITE):
        point = make_point(i * 100, 0.5, train_loss=bad, val_loss=-bad, lr=0.0, val_top5=None)
        run.history.append(point)
        rec.on_eval(run, point)
    result = make_result(
        run,
        status="diverged",
        stop_reason="non_finite_loss",
        final_top1=math.nan,
        robustness_gap=-math.inf,
        best_top1=math.inf,
    )
    rec.on_run_end(run, result)
    row = store.run(run.run_id)
    assert row["status"] == "diverged"
    assert math.isnan(row["final_top1"]) and row["robustness_gap"] == -math.inf
    assert row["best_top1"] == math.inf
    for got, sent in zip(row["history"], run.history, strict=True):
        for key, value in sent.items():
            assert _same(got[key], value), (key, got[key], value)
    curve = store.curves([run.run_id], ["train_loss", "val_loss"])
    assert math.isnan(curve["train_loss"][0]) and curve["train_loss"][1] == math.inf
    assert curve["val_loss"][2] == math.inf
    df = store.runs()
    assert math.isnan(df["final_top1"][0])


finite_or_not = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.none(),
    st.sampled_from(NONFINITE),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(finite_or_not, min_size=14, max_size=14))
def test_any_float_round_trips_in_points(store: Store, values: list[float | None]) -> None:
    from workbench.store.models import POINT_KEYS

    keys = POINT_KEYS[1:]
    point = {"iteration": 0, **dict(zip(keys, values, strict=True))}
    spec = make_spec()
    run_id = store.begin_run(spec)
    store.add_points(run_id, [point])
    got = store.run(run_id)["history"][0]
    for k in keys:
        assert _same(got[k], point[k]), (k, got[k], point[k])
    store.delete_runs([run_id])


def _seed_history(store: Store) -> dict[str, str]:
    """Two policies × three seeds on one task, one probe, one other task."""
    rec = Recorder(store)
    ids = {}
    # FIX reaches 0.9 at 800 (seed 2 never); COS reaches it at 200.
    fix_curves = {
        0: [0.1] * 8 + [0.9, 0.91, 0.92],
        1: [0.1] * 8 + [0.95, 0.95, 0.95],
        2: [0.1] * 11,
    }
    for seed, curve in fix_curves.items():
        ids[f"fix{seed}"] = fake_train(rec, make_spec(seed=seed), curve).run_id
    for seed in range(3):
        curve = [0.1, 0.5, 0.9, 0.92, 0.93, 0.93, 0.94, 0.94, 0.94, 0.95, 0.96 + 0.01 * seed]
        ids[f"cos{seed}"] = fake_train(rec, make_spec(seed=seed, policy=COS), curve).run_id
    probe = make_spec(
        seed=0, policy={"function": "EXP", "k0": 0.1, "gamma": 0.99}, kind="probe", search_id="s1"
    )
    ids["probe"] = fake_train(rec, probe, [0.99] * 3).run_id
    other = make_spec(dataset="digits", model="lenet5")
    ids["other"] = fake_train(rec, other, [0.2, 0.3], status="diverged").run_id
    return ids


def test_runs_filters(store: Store) -> None:
    ids = _seed_history(store)
    task = {k: make_spec()[k] for k in ("dataset", "model", "optimizer", "batch_size")}
    assert len(store.runs()) == 8
    assert len(store.runs(task=task)) == 7
    assert len(store.runs(task=make_spec())) == 7  # a run spec names its task too
    assert len(store.runs(task=task_id(task))) == 7
    assert len(store.runs(task={"dataset": "digits"})) == 1
    assert len(store.runs(task={"optimizer": "momentum", "batch_size": 64})) == 8
    cos_hash = from_spec(COS).hash
    assert set(store.runs(policy=cos_hash)["run_id"]) == {ids[f"cos{s}"] for s in range(3)}
    assert len(store.runs(policy=cos_hash[:8])) == 3
    assert len(store.runs(policy=COS)) == 3
    store.save_policy(COS, label="cosine")
    assert len(store.runs(policy="cosine")) == 3
    assert list(store.runs(status="diverged")["run_id"]) == [ids["other"]]
    assert len(store.runs(status=["completed", "diverged"])) == 8
    assert list(store.runs(kind="probe")["run_id"]) == [ids["probe"]]
    assert len(store.runs(include_probes=False)) == 7
    assert list(store.runs(search_id="s1")["run_id"]) == [ids["probe"]]
    assert len(store.runs(limit=2)) == 2
    df = store.runs(task=task, policy=FIX)
    assert {"run_id", "status", "policy_hash", "final_top1"} <= set(df.columns)
    assert sorted(df["seed"]) == [0, 1, 2]


def test_history_for_task_leaves_probes_out(store: Store) -> None:
    ids = _seed_history(store)
    hist = store.history_for_task(make_spec())
    assert ids["probe"] not in set(hist["run_id"]) and len(hist) == 6
    assert {json.dumps(p, sort_keys=True) for p in hist["policy"]} == {
        json.dumps(from_spec(FIX).to_spec(), sort_keys=True),
        json.dumps(from_spec(COS).to_spec(), sort_keys=True),
    }
    assert len(store.history_for_task(make_spec(), include_probes=True)) == 7
    assert store.history_for_task(
        {"dataset": "nothing", "model": "x", "optimizer": "sgd", "batch_size": 1}
    ).empty


def test_policy_summary(store: Store) -> None:
    _seed_history(store)
    summary = store.policy_summary(make_spec())
    fix, cos = summary.loc[from_spec(FIX).hash], summary.loc[from_spec(COS).hash]
    assert list(summary.index)[0] == from_spec(COS).hash  # more targets met, sooner
    assert (fix["runs"], fix["seeds"], fix["met_target"]) == (3, 3, 2)
    assert fix["median_iterations_to_target"] == 800
    assert cos["met_target"] == 3 and cos["median_iterations_to_target"] == 200
    assert cos["final_top1_mean"] == pytest.approx(0.97)
    assert cos["final_top1_std"] == pytest.approx(0.01)
    assert fix["robustness_gap_mean"] == pytest.approx(0.75 - 1 / 1001)
    # With a target of its own, reaching it is judged on the curves.
    high = store.policy_summary(make_spec(), target=0.95)
    assert high.loc[from_spec(FIX).hash, "met_target"] == 1
    assert high.loc[from_spec(FIX).hash, "median_iterations_to_target"] == 800
    assert high.loc[from_spec(COS).hash, "median_iterations_to_target"] == 900
    assert store.policy_summary(
        {"dataset": "none", "model": "m", "optimizer": "sgd", "batch_size": 1}
    ).empty


def test_speedup(store: Store) -> None:
    _seed_history(store)
    fix, cos = from_spec(FIX).hash, from_spec(COS).hash
    out = store.speedup(make_spec(), cos, fix, target=0.9)
    assert out["seeds"] == [0, 1, 2]
    # Baseline: 800, 800, censored at the budget 1000; policy: 200 each.
    assert out["baseline"]["censored"] == 1 and out["policy"]["censored"] == 0
    assert out["speedup"] == pytest.approx(800 / 200)
    assert [r["speedup"] for r in out["per_seed"]] == pytest.approx([4, 4, 5])
    # Default target: the median final top-1 of the baseline (0.92).
    default = store.speedup(make_spec(), cos[:10], fix[:10])
    assert default["target"] == pytest.approx(0.92)
    assert default["speedup"] == pytest.approx(1000 / 300)
    assert store.speedup(make_spec(), cos, fix, 0.9, seeds=[0])["seeds"] == [0]


def test_curves_of_several_runs(store: Store) -> None:
    ids = _seed_history(store)
    df = store.curves([ids["cos1"], ids["fix0"]], ["val_top1"])
    assert list(df.columns) == ["run_id", "iteration", "val_top1"]
    assert list(df["run_id"].unique()) == [ids["cos1"], ids["fix0"]]
    assert len(df) == 22
    with pytest.raises(BadInput, match="unknown metric"):
        store.curves([ids["cos1"]], ["nope"])


def test_run_lookup(store: Store) -> None:
    ids = _seed_history(store)
    assert store.run(ids["cos0"][:8])["run_id"] == ids["cos0"]
    with pytest.raises(RunNotFound):
        store.run("ffffffffffff")
    with pytest.raises(KeyError):
        store.run("nope")


def test_rerecording_a_job_does_not_duplicate(store: Store) -> None:
    rec = Recorder(store)
    spec = make_spec(job_id="job-1")
    first = fake_train(rec, spec, [0.1, 0.2], status="failed")
    second = fake_train(rec, spec, [0.1, 0.5, 0.95])
    runs = store.runs(job_id="job-1")
    assert list(runs["run_id"]) == [second.run_id] and runs["status"][0] == "completed"
    assert store.run(second.run_id)["n_points"] == 3
    with pytest.raises(RunNotFound):
        store.run(first.run_id)
    # A different run of the same job (another seed) is another record.
    fake_train(rec, make_spec(job_id="job-1", seed=7), [0.3])
    assert len(store.runs(job_id="job-1")) == 2
    # The same run id recorded again replaces its points too.
    again = FakeRun(spec=make_spec(), run_id=second.run_id)
    rec.on_run_start(again)
    rec.on_run_end(again, make_result(again, status="stopped"))
    assert store.run(second.run_id)["n_points"] == 0


def test_verdicts(store: Store) -> None:
    ids = _seed_history(store)
    vid = store.record_verdict(
        ids["fix2"],
        {
            "verdict": "rejected",
            "iteration": 400,
            "compute_fraction": 0.4,
            "rule": "unreachable",
            "predicted_final": math.nan,
            "evidence": {"fit": [1.0, 2.0]},
            "decisions": [
                {"rule": "divergence", "iteration": 100, "reason": None},
                {
                    "rule": "unreachable",
                    "iteration": 400,
                    "action": "stop",
                    "reason": "predicted 0.5 < 0.9",
                },
            ],
            "run": {"huge": True},
        },
    )
    assert isinstance(vid, int)
    v = store.run(ids["fix2"])["verdicts"][0]
    assert v["verdict"] == "rejected" and v["rule"] == "unreachable"
    assert math.isnan(v["predicted_final"]) and v["evidence"] == {"fit": [1.0, 2.0]}
    assert len(v["decisions"]) == 2 and "run" not in v
    df = store.verdicts(task=make_spec())
    assert list(df["verdict"]) == ["rejected"] and df["policy_hash"][0] == from_spec(FIX).hash
    hist = store.history_for_task(make_spec())
    assert hist.set_index("run_id").loc[ids["fix2"], "verdict"] == "rejected"
    with store.session() as s:
        n = s.execute(text("SELECT count(*) FROM rule_decisions")).scalar()
    assert n == 2


def test_searches_with_lineage_ledger_and_probes(store: Store) -> None:
    ids = _seed_history(store)
    sid = store.record_search({"search_id": "s1", "spec": make_spec(), "status": "running"})
    assert store.search(sid)["status"] == "running"
    store.record_search(
        {
            "search_id": "s1",
            "spec": make_spec(),
            "policy": COS,
            "status": "done",
            "explanation": "COS beat FIX",
            "search_iterations": 1500,
            "lineage": [{"stage": 0, "chosen": "COS"}],
            "ledger": [
                {
                    "stage": 0,
                    "item": "COS",
                    "run_id": ids["probe"],
                    "iterations": 500,
                    "seconds": 1.5,
                },
                {"stage": 0, "item": "FIX", "iterations": 1000},
            ],
            "verdict": {"verdict": "meets"},
            "note": "kept",
        }
    )
    s = store.search("s1")
    assert s["status"] == "done" and s["policy"] == from_spec(COS).to_spec()
    assert s["search_iterations"] == 1500 and s["lineage"][0]["chosen"] == "COS"
    assert [e["iterations"] for e in s["ledger"]] == [500, 1000]
    assert s["probe_run_ids"] == [ids["probe"]]
    assert s["payload"]["note"] == "kept" and s["task"]["dataset"] == "mnist1d"
    assert list(store.searches(make_spec())["search_id"]) == ["s1"]


def test_sweeps_and_jobs(store: Store) -> None:
    jid = job_id_for("sw", "nb.ipynb", {"seed": 1})
    assert jid == job_id_for("sw", "nb.ipynb", {"seed": 1}) != job_id_for("sw", "nb.ipynb", {})
    store.upsert_sweep("sw", spec={"grid": {"seed": [1, 2]}}, notebook="nb.ipynb")
    store.upsert_job(
        {"job_id": jid, "sweep": "sw", "notebook": "nb.ipynb", "parameters": {"seed": 1}}
    )
    assert store.job(jid)["status"] == "pending" and store.job(jid)["attempts"] == 0
    store.upsert_job({"job_id": jid, "status": "running", "worker": "w1"})
    store.upsert_job({"job_id": jid, "status": "failed", "error": "boom"})
    store.upsert_job({"job_id": jid, "status": "running"})
    store.upsert_job({"job_id": jid, "status": "done", "run_id": "r1", "output": "out.ipynb"})
    job = store.job(jid)
    assert job["status"] == "done" and job["attempts"] == 2 and job["run_id"] == "r1"
    assert job["parameters"] == {"seed": 1} and job["worker"] == "w1"
    assert job["ended_at"] >= job["started_at"]
    # Keys given as None leave a value alone; unknown keys travel in the payload.
    store.upsert_job({"job_id": jid, "status": None, "attempts": None, "run_ids": ["r1"]})
    store.upsert_job({"job_id": jid, "events": [1]})
    job = store.job(jid)
    assert job["status"] == "done" and job["attempts"] == 2
    assert job["run_ids"] == ["r1"] and job["events"] == [1]
    store.upsert_job({"job_id": "j2", "sweep": "sw", "parameters": {"seed": 2}})
    assert [j["job_id"] for j in store.jobs("sw")] == [jid, "j2"]
    assert [j["job_id"] for j in store.jobs("sw", status="pending")] == ["j2"]
    assert store.job("nope") is None
    with pytest.raises(BadInput, match="status"):
        store.upsert_job({"job_id": jid, "status": "weird"})
    with pytest.raises(BadInput, match="job_id"):
        store.upsert_job({"sweep": "sw"})


def test_export_import_round_trip(store: Store, tmp_path) -> None:
    from workbench.store import open_store

    ids = _seed_history(store)
    store.record_verdict(
        ids["other"], {"verdict": "diverged", "rule": "divergence", "compute_fraction": math.inf}
    )
    buf = io.StringIO()
    assert store.export_runs(buf) == 8
    text_out = buf.getvalue()
    assert "NaN" not in text_out.replace('"NaN"', "")  # never a bare NaN token
    other = open_store(f"sqlite:///{tmp_path / 'other.sqlite'}")
    counts = other.import_runs(io.StringIO(text_out))
    assert counts == {"imported": 8, "skipped": 0}
    assert other.import_runs(io.StringIO(text_out)) == {"imported": 0, "skipped": 8}
    a, b = store.run(ids["other"]), other.run(ids["other"])
    for key in (
        "status",
        "policy_hash",
        "task_id",
        "history",
        "final_top1",
        "started_at",
        "ended_at",
        "spec",
    ):
        assert a[key] == b[key], key
    assert b["verdicts"][0]["compute_fraction"] == math.inf
    assert len(other.runs(kind="probe")) == 1
    path = tmp_path / "runs.jsonl"
    assert store.export_runs(path, [ids["cos0"]]) == 1
    assert other.import_runs(path, replace=True) == {"imported": 1, "skipped": 0}
    with pytest.raises(BadInput, match="not JSON"):
        other.import_runs(io.StringIO("{oops\n"))
    other.dispose()


def test_delete_runs(store: Store) -> None:
    ids = _seed_history(store)
    store.record_verdict(ids["fix0"], {"verdict": "meets", "decisions": [{"rule": "x"}]})
    assert store.delete_runs([ids["fix0"], ids["fix1"][:10]]) == 2
    assert len(store.runs()) == 6
    with store.session() as s:
        pts = s.execute(
            text("SELECT count(*) FROM eval_points WHERE run_id IN (:a, :b)"),
            {"a": ids["fix0"], "b": ids["fix1"]},
        ).scalar()
        decisions = s.execute(text("SELECT count(*) FROM rule_decisions")).scalar()
    assert pts == 0 and decisions == 0


def test_session_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.session(write=True) as s:
        s.execute(text("INSERT INTO sweeps (name, created_at) VALUES ('x', 0)"))
        raise RuntimeError("boom")
    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM sweeps")).scalar() == 0


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_running_runs_read_interrupted_and_reap(store: Store) -> None:
    rec = Recorder(store)
    alive = FakeRun(spec=make_spec(seed=1))
    rec.on_run_start(alive)
    for i in range(3):
        rec.on_eval(alive, make_point(i * 100))
    rec.flush()
    gone = store.begin_run(make_spec(seed=2))
    with store.session(write=True) as s:
        s.execute(text("UPDATE runs SET pid = :p WHERE run_id = :r"), {"p": _dead_pid(), "r": gone})
    df = store.runs().set_index("run_id")
    assert df.loc[alive.run_id, "status"] == "running"
    assert df.loc[gone, "status"] == "interrupted"
    assert df.loc[gone, "stop_reason"] == "process_gone"
    assert list(store.runs(status="interrupted")["run_id"]) == [gone]
    # An old heartbeat: stale once `now` is far beyond a few evaluation intervals.
    later = time.time() + 10_000
    assert store.run(alive.run_id)["status"] == "running"
    assert set(store.runs(now=later, status="interrupted")["run_id"]) == {alive.run_id, gone}
    assert store.reap() == [gone]
    assert store.reap() == []
    assert store.reap(now=later) == [alive.run_id]
    with store.session() as s:
        raw = s.execute(
            text("SELECT status FROM runs WHERE run_id = :r"), {"r": alive.run_id}
        ).scalar()
    assert raw == "interrupted"
    # A run reaped by mistake comes back with its next point, and ends normally.
    rec.on_eval(alive, make_point(300))
    rec.flush()
    assert store.run(alive.run_id)["status"] == "running"
    rec.on_run_end(alive, make_result(alive))
    assert store.run(alive.run_id)["status"] == "completed"


def test_save_policy_and_policies(store: Store) -> None:
    h = store.save_policy(COS, label="cos")
    assert h == from_spec(COS).hash
    assert store.save_policy(from_spec(COS)) == h
    df = store.policies()
    assert list(df["label"]) == ["cos"] and df["functions"][0] == ["COS"]
    assert store.policy("cos")["spec"] == from_spec(COS).to_spec()
    with pytest.raises(BadInput):
        store.save_policy({"function": "NOPE"})
    with pytest.raises(BadInput, match="no policy"):
        store.policy("deadbeef")


def test_record_run_from_a_result_dict(store: Store) -> None:
    run = FakeRun(spec=make_spec(kind="verify"))
    run.history = [make_point(0, 0.2), make_point(100, 0.95)]
    run_id = store.record_run(make_result(run, status="stopped", stop_reason="target_reached"))
    got = store.run(run_id)
    assert run_id == run.run_id and got["kind"] == "verify" and got["n_points"] == 2
    assert (got["status"], got["stop_reason"]) == ("stopped", "target_reached")
    assert got["iterations_to_target"] == 100 and got["provenance"] == {"hostname": "test"}
