"""The Schedule-Free opt-in (`allow_optimizer_change`): the task optimizer's Schedule-Free
counterpart as stage-1 candidates with the range test's peak; a win changes the optimizer
everywhere (spec, explanation, record, verification) and replays exactly; without the
opt-in nothing changes; history answers from the counterpart's runs only when allowed."""

from __future__ import annotations

import pytest

from tests.recommend.common import SPEC
from tests.recommend.test_history import _record
from tests.recommend.test_search import _assert_ledger, _assert_replays
from workbench.errors import BadInput
from workbench.policies import from_spec
from workbench.recommend import (
    RangeTestResult,
    SearchConfig,
    StagedSearch,
    check_request,
    modern_baselines,
    recommend,
)
from workbench.recommend.candidates import HOT, schedule_free_candidates
from workbench.recommend.defaults import schedule_free_counterpart
from workbench.store import open_store

SF_SGD = {"name": "schedulefree-sgd", "momentum": 0.9}
CFG = SearchConfig(stages=2, k=2)


def _peak(spec: dict) -> float:
    return max(from_spec(spec).values(SPEC["budget"]))


@pytest.mark.parametrize(
    ("optimizer", "counterpart"),
    [
        ({"name": "momentum", "momentum": 0.8, "weight_decay": 5e-4},
         {"name": "schedulefree-sgd", "momentum": 0.8, "weight_decay": 5e-4}),
        ({"name": "sgd"}, {"name": "schedulefree-sgd"}),
        ({"name": "nesterov"}, {"name": "schedulefree-sgd"}),
        ({"name": "adam"}, {"name": "schedulefree-adamw"}),
        ({"name": "adamw", "weight_decay": 0.01},
         {"name": "schedulefree-adamw", "weight_decay": 0.01}),
    ],
)  # fmt: skip
def test_candidates_are_the_schedule_free_baseline_and_a_hot_one(optimizer, counterpart):
    assert schedule_free_counterpart(optimizer) == counterpart
    cands = schedule_free_candidates(0.1, 150, optimizer, 80)
    assert [c.label for c in cands] == ["schedule-free", "schedule-free-hot"]
    assert all(c.optimizer == counterpart and c.origin == "optimizer" for c in cands)
    # The first is exactly the Schedule-Free baseline (same warm-up, same peak), so the two agree.
    base = modern_baselines(0.1, 150, optimizer)["schedule-free"]
    assert cands[0].spec == base.policy and cands[0].optimizer == base.optimizer
    assert _peak(cands[0].spec) == pytest.approx(0.1)
    assert _peak(cands[1].spec) == pytest.approx(HOT * 0.1)


def test_schedule_free_optimizers_add_nothing_and_others_are_refused_by_name():
    assert schedule_free_candidates(0.1, 150, SF_SGD, 80) == []
    for name in ("rmsprop", "adagrad", "adadelta"):
        with pytest.raises(BadInput, match=f"{name}.*no Schedule-Free counterpart"):
            schedule_free_candidates(0.1, 150, {"name": name}, 80)


def test_bad_optimizer_with_the_opt_in_fails_up_front_and_is_fine_without():
    spec = dict(SPEC, optimizer={"name": "rmsprop"})
    with pytest.raises(BadInput, match="'rmsprop' has no Schedule-Free counterpart"):
        recommend(spec, allow_optimizer_change=True)  # before any training
    assert check_request(spec, CFG)["optimizer"]["name"] == "rmsprop"


def test_already_schedule_free_gets_a_note_and_no_extra_candidates():
    rec = recommend(
        dict(SPEC, optimizer=SF_SGD), config=CFG, verify=False, allow_optimizer_change=True
    )
    assert "already Schedule-Free" in rec.explanation and not rec.optimizer_changed
    assert not [p for p in rec.lineage if p["origin"] == "optimizer"]


def test_opt_in_adds_the_candidates_with_the_range_peak_and_changes_nothing_else():
    spec = dict(SPEC, target=0.8)
    plain = recommend(spec, config=CFG, verify=False)
    opted = recommend(spec, config=CFG, verify=False, allow_optimizer_change=True)
    assert plain.range["high"] == opted.range["high"]
    first = [p for p in opted.lineage if p["stage"] == 0]
    sf = [p for p in first if p["origin"] == "optimizer"]
    assert [p["label"] for p in sf] == ["schedule-free", "schedule-free-hot"]
    assert all(p["optimizer"]["name"] == "schedulefree-sgd" for p in sf)
    assert _peak(sf[0]["spec"]) == pytest.approx(opted.range["high"])  # the range test's peak

    # On top of the K: the task's own candidates are those of the search without the opt-in.
    def own(rec):
        return [
            (p["label"], p["spec"]) for p in rec.lineage if p["stage"] == 0 and "optimizer" not in p
        ]

    assert own(opted) == own(plain) and len(own(plain)) == CFG.k
    assert not [p for p in plain.lineage if "optimizer" in p]
    assert plain.optimizer == SPEC["optimizer"] and not plain.optimizer_changed
    # Here Schedule-Free loses: the recommendation is the plain one, with a note saying so.
    assert not opted.optimizer_changed and opted.optimizer == SPEC["optimizer"]
    assert opted.policy == plain.policy and opted.trajectory == plain.trajectory
    assert "tried in stage 1 and not chosen" in opted.explanation
    assert "CHANGES THE OPTIMIZER" not in plain.explanation + opted.explanation


def test_a_schedule_free_win_composes_later_stages_on_it_and_replays_exactly():
    # The task's own candidates get a useless range; Schedule-Free a workable peak.
    store = open_store()
    extra = schedule_free_candidates(0.5, SPEC["budget"], SPEC["optimizer"], 80)
    search = StagedSearch(SPEC, 1e-5, 2e-5, SearchConfig(stages=3, k=2), store=store, extra=extra)
    res = search.run()
    assert res.optimizer_changed and res.optimizer == SF_SGD
    assert res.stages[0]["label"].startswith("schedule-free") and len(res.stages) == 3
    policy = from_spec(res.policy)
    assert policy.stages[0].policy.functions == ("LINEAR",)  # the warm-up leads the path
    # Later stages forked from the Schedule-Free state: their probes train with it.
    probes = store.runs(kind="probe", search_id=res.search_id)
    later = {p["run_id"] for p in res.lineage if p["stage"] > 0}
    assert later and set(probes[probes["run_id"].isin(later)]["optimizer"]) == {SF_SGD["name"]}
    assert {p["label"] for p in res.lineage if p["stage"] > 0} >= {"FIX-same"}
    _assert_replays(dict(SPEC, optimizer=res.optimizer), res)
    _assert_ledger(res)


def test_recommend_says_it_changes_the_optimizer_and_verifies_with_it():
    store = open_store()
    # A range test already run (as benchmarks/speedup.py passes one): too hot for
    # SGD-momentum, a usual LR for Schedule-Free SGD (its default is 1.0).
    rt = RangeTestResult(lrs=[], losses=[], low=0.5, high=1.0, iterations=0)
    spec = dict(SPEC, target=0.85)
    rec = recommend(spec, store, config=CFG, range_result=rt, allow_optimizer_change=True)
    assert rec.source == "search" and rec.optimizer_changed
    assert rec.optimizer == SF_SGD and rec.run_spec["optimizer"] == SF_SGD
    assert rec.run_spec["policy"] == rec.policy
    assert "CHANGES THE OPTIMIZER from momentum" in rec.explanation
    assert "schedulefree-sgd" in rec.explanation
    d = rec.to_dict()
    assert d["optimizer"] == SF_SGD and d["optimizer_changed"] and d["allow_optimizer_change"]
    # The verification run trained with Schedule-Free SGD.
    assert rec.verdict["verdict"] == "meets"
    verify_runs = store.runs(kind="verify")
    assert list(verify_runs["optimizer"]) == ["schedulefree-sgd"]
    stored = store.search(rec.search_id)
    assert stored["payload"]["optimizer"] == SF_SGD and stored["payload"]["optimizer_changed"]
    assert stored["explanation"] == rec.explanation


def test_history_answers_from_the_counterpart_only_when_allowed():
    store = open_store()
    sf_policy = {"function": "FIX", "k0": 0.77}
    sf_task = dict(SPEC, optimizer=SF_SGD)
    for seed in range(2):
        _record(store, sf_policy, seed, reach_at=30, spec=sf_task)
    spec = dict(SPEC, target=0.9)
    plain = recommend(spec, store, config=CFG, verify=False)
    assert plain.source == "search" and not plain.optimizer_changed
    assert from_spec(plain.policy).hash != from_spec(sf_policy).hash
    assert "no history" in plain.explanation  # the counterpart's runs are another task
    opted = recommend(spec, store, config=CFG, verify=False, allow_optimizer_change=True)
    assert opted.source == "history" and opted.search_iterations == 0
    assert opted.optimizer_changed and opted.optimizer == SF_SGD
    assert from_spec(opted.policy).hash == from_spec(sf_policy).hash
    assert "schedulefree-sgd" in opted.explanation and "CHANGES THE OPTIMIZER" in opted.explanation


def test_history_keeps_the_task_optimizer_when_its_own_policy_is_faster():
    store = open_store()
    own, sf_policy = {"function": "FIX", "k0": 0.1}, {"function": "FIX", "k0": 0.77}
    for seed in range(2):
        _record(store, own, seed, reach_at=20)
        _record(store, sf_policy, seed, reach_at=40, spec=dict(SPEC, optimizer=SF_SGD))
    rec = recommend(
        dict(SPEC, target=0.9), store, config=CFG, verify=False, allow_optimizer_change=True
    )
    assert rec.source == "history" and not rec.optimizer_changed
    assert from_spec(rec.policy).hash == from_spec(own).hash
