"""Recommendation from history: what met the target before wins, diverged or failed
policies never come back, probes do not count, near tasks warm-start with a note."""

from __future__ import annotations

import math
import uuid

from tests.recommend.common import SPEC
from workbench.policies import from_spec
from workbench.recommend import recommend
from workbench.recommend.history import canonical_task, consult
from workbench.store import open_store
from workbench.train import POINT_KEYS

GOOD = {"function": "FIX", "k0": 0.1}
DIVERGED = {"function": "FIX", "k0": 0.3}
REJECTED = {"function": "COS", "k0": 0.0, "k1": 0.2, "l": 150}
FAILS = {"function": "EXP", "k0": 0.2, "gamma": 0.99}
PROBE = {"function": "FIX", "k0": 0.5}


def _record(
    store, policy, seed, reach_at, *, status="completed", kind="train", verdict=None, spec=SPEC
):
    """A hand-made run: val top-1 climbs to 0.95 at `reach_at` (0.5 before)."""
    history = []
    for it in range(0, spec["budget"] + 1, spec["eval_every"]):
        acc = 0.95 if it >= reach_at else 0.5
        history.append(
            {k: math.nan for k in POINT_KEYS}
            | {
                "iteration": it,
                "val_top1": acc,
                "test_top1": acc,
                "val_loss": 1 - acc,
                "train_loss": 1 - acc,
                "test_loss": 1 - acc,
                "lr": 0.1,
            }
        )
    if status == "diverged":
        history[-1] |= {"val_loss": math.inf, "train_loss": math.nan}
    run_spec = dict(spec, policy=policy, seed=seed, target=0.9)
    run_id = uuid.uuid4().hex
    result = {
        "run_id": run_id, "status": status, "stop_reason": None,
        "iterations": spec["budget"], "epochs": 1.0, "final_top1": history[-1]["val_top1"],
        "best_top1": 0.95, "final_test_top1": 0.95, "best_test_top1": 0.95,
        "iterations_to_target": reach_at, "seconds_to_target": 1.0, "robustness_gap": 0.1,
        "train_seconds": 1.0, "eval_seconds": 0.1, "wall_seconds": 1.2, "spec": run_spec,
        "task": canonical_task(run_spec),
        "policy_hash": from_spec(policy).hash, "provenance": {}, "history": history,
        "error": None,
    }  # fmt: skip
    store.record_run(result, kind=kind)
    if verdict:
        store.record_verdict(
            run_id,
            {
                "verdict": verdict,
                "iteration": spec["budget"],
                "compute_fraction": 1.0,
                "rule": None,
            },
        )
    return run_id


def _seed_store(store):
    for seed in range(3):
        _record(store, GOOD, seed, reach_at=60)
        _record(store, DIVERGED, seed, reach_at=30, status="diverged" if seed == 2 else "completed")
        _record(
            store,
            REJECTED,
            seed,
            reach_at=20,
            kind="verify",
            verdict="rejected" if seed == 0 else "meets",
        )
        _record(
            store,
            FAILS,
            seed,
            reach_at=40,
            kind="verify",
            verdict="fails" if seed == 1 else "meets",
        )
        _record(store, PROBE, seed, reach_at=10, kind="probe")


def test_history_recommends_what_met_the_target_and_never_a_failed_policy():
    store = open_store()
    _seed_store(store)
    rec = recommend(dict(SPEC, target=0.9), store=store, verify=False)
    assert rec.source == "history" and rec.search_iterations == 0
    assert from_spec(rec.policy).hash == from_spec(GOOD).hash
    assert "met 90.0%" in rec.explanation and "3 of 3 runs" in rec.explanation
    banned = {from_spec(p).hash for p in (DIVERGED, REJECTED, FAILS)}
    assert banned <= set(rec.evidence["banned"])
    report = consult(store, dict(SPEC, target=0.9), 50)
    assert all(p.policy_hash not in banned for p in report.picks)
    assert from_spec(PROBE).hash not in {p.policy_hash for p in report.picks}


def test_no_reliable_history_warm_starts_the_search_without_banned_policies():
    store = open_store()
    for seed in range(2):
        _record(store, DIVERGED, seed, reach_at=30, status="diverged")
        _record(store, GOOD, seed, reach_at=10_000)  # never reaches the target
    report = consult(store, dict(SPEC, target=0.9), 50)
    assert report.best is None and report.warm
    assert all(c.origin == "history" for c in report.warm)
    assert {c.spec["k0"] for c in report.warm} == {0.1}  # the diverged FIX 0.3 is left out
    assert "warm-start" in report.notes[0]


def test_nearest_task_warm_start_says_so():
    store = open_store()
    other = dict(SPEC, batch_size=64)
    _record(store, GOOD, 0, reach_at=50, spec=other)
    report = consult(store, dict(SPEC, target=0.9), 50)
    assert report.picks == [] and report.warm
    assert "nearest task" in report.notes[0] and "batch 64" in report.notes[0]


def test_a_slow_policy_that_met_the_target_warm_starts_instead_of_being_recommended():
    store = open_store()
    for seed in range(2):
        _record(store, GOOD, seed, reach_at=120)  # 0.8 of the budget: a search should win
    report = consult(store, dict(SPEC, target=0.9), 50)
    assert report.picks and report.picks[0].reliable and report.best is None
    assert report.warm and report.warm[0].origin == "history"


def test_the_search_never_tries_a_banned_policy():
    from workbench.recommend import SearchConfig, StagedSearch
    from workbench.recommend.candidates import generate, select

    spec = dict(SPEC, target=0.9)
    first = select(generate(0.04, 0.2, 80, optimizer="momentum"), 6)
    banned = {from_spec(first[0].spec).hash, from_spec(first[1].spec).hash}
    search = StagedSearch(spec, 0.04, 0.2, SearchConfig(stages=2), banned=banned)
    cands = search._candidates(0, 0, 80)
    assert len(cands) == 6
    assert not banned & {from_spec(c.spec).hash for c in cands}
