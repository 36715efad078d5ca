"""The staged composition search on the synthetic task: a valid composite whose replay
from scratch reproduces the search's trajectory, an honest ledger, probes in the store."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.recommend.common import SPEC
from workbench.errors import BadInput
from workbench.policies import Composite, from_spec
from workbench.recommend import SearchConfig, recommend, staged_search
from workbench.report import search_range_table
from workbench.store import open_store
from workbench.train import train

KEYS = ("lr", "train_loss", "val_loss", "val_top1", "test_top1")


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _assert_replays(spec: dict, result) -> None:
    replay = train(dict(spec, policy=result.policy)).to_dict()
    points = {p["iteration"]: p for p in replay["history"]}
    # A point's `lr` is the LR of the next iteration: at a stage end the probe still shows
    # its own policy's, the composite the next stage's. Everything trained is identical.
    ends = {s["end"] for s in result.stages}
    for p in result.trajectory:
        q = points[p["iteration"]]
        for k in KEYS:
            if k == "lr" and p["iteration"] in ends:
                continue
            assert _same(p[k], q[k]), (p["iteration"], k, p[k], q[k])


def _assert_ledger(result) -> None:
    probes = [e for e in result.ledger if e["item"].startswith("probe:")]
    assert len(probes) == len(result.lineage)
    by_run = {p["run_id"]: p for p in result.lineage}
    for e in probes:
        p = by_run[e["run_id"]]
        assert e["iterations"] == p["end"] - p["start"] == p["iterations"]
    assert result.search_iterations == sum(e["iterations"] for e in result.ledger)


@pytest.mark.parametrize("split", ["fixed", "adaptive"])
def test_search_returns_a_composite_that_replays_exactly(split):
    store = open_store()
    keep = split == "adaptive"  # one of the two keeps its stage checkpoints on request
    cfg = SearchConfig(stages=3, k=3, split=split, keep_checkpoints=keep)
    res = staged_search(SPEC, 0.04, 0.2, cfg, store=store)
    policy = from_spec(res.policy)
    assert isinstance(policy, Composite) and len(policy.stages) == len(res.stages) >= 2
    ends = [s["end"] for s in res.stages]
    assert policy.boundaries == ends[:-1]
    assert all(b % SPEC["eval_every"] == 0 for b in policy.boundaries)
    assert [s.policy.to_spec() for s in policy.stages] == [s["spec"] for s in res.stages]
    assert {p["iteration"] for p in res.trajectory} >= set(ends)
    _assert_replays(SPEC, res)
    _assert_ledger(res)
    # Every probe is a stored run of kind `probe` linked to the search; history skips them.
    probes = store.runs(kind="probe", search_id=res.search_id)
    assert set(probes["run_id"]) == {p["run_id"] for p in res.lineage}
    assert (probes["status"] != "running").all()
    assert store.history_for_task(SPEC).empty
    folder = Path(store_root()) / "checkpoints" / f"search-{res.search_id}"
    if keep:
        assert res.checkpoint_dir == str(folder)
        assert sorted(p.name for p in folder.iterdir()) == [
            f"stage-{s['stage']}.pt" for s in res.stages[:-1]
        ]
    else:
        assert not folder.exists() and res.checkpoint_dir is None


def store_root() -> Path:
    from workbench.paths import store_root as root

    return root()


def test_recommend_records_the_search_and_its_ledger_adds_up():
    store = open_store()
    rec = recommend(dict(SPEC, target=0.8), store=store, config=SearchConfig(stages=3, k=3))
    d = rec.to_dict()
    assert d["policy"] and d["explanation"] and d["search_iterations"] > 0
    assert rec.ledger[0]["item"] == "range_test"
    assert rec.search_iterations == sum(e["iterations"] for e in rec.ledger)
    assert d["plain_run_equivalents"] == pytest.approx(rec.search_iterations / SPEC["budget"])
    assert rec.verdict is not None and rec.verdict["verdict"] in ("meets", "fails", "rejected")
    assert rec.meets_target == (rec.verdict["verdict"] == "meets")
    stored = store.search(rec.search_id)
    assert stored["search_iterations"] == rec.search_iterations
    assert sum(e["iterations"] for e in stored["ledger"]) == rec.search_iterations
    # the range test travels with the search, curve included, and feeds the report's Table 7b
    assert stored["payload"]["range"]["curve"] == rec.range["curve"]
    t7b = search_range_table(store)
    assert list(t7b["search_id"]) == [rec.search_id]
    assert t7b["low"].iloc[0] == pytest.approx(rec.range["low"])
    assert t7b["iterations"].iloc[0] == rec.ledger[0]["iterations"]


def test_an_unreachable_target_ends_with_the_best_policy_marked_and_evidence():
    spec = dict(SPEC, target=0.999)
    cfg = SearchConfig(stages=2, k=2)
    rec = recommend(spec, config=cfg, verify=False)
    assert rec.meets_target is False
    assert "does NOT meet" in rec.explanation
    assert rec.evidence["best_val_top1"] < 0.999 and rec.evidence["stage_scores"]
    from_spec(rec.policy)
    # When every probe was pruned, the committed one is the best of them, not any of them.
    for stage in rec.stages:
        same = [p for p in rec.lineage if p["stage"] == stage["stage"]]
        if all(p["pruned"] for p in same):
            assert stage["val_top1"] == max(p["val_top1"] for p in same)
    # Bounded: never more than K probes over the budget, plus the range test.
    assert rec.search_iterations <= cfg.k * SPEC["budget"] + rec.ledger[0]["iterations"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dataset": "no-such-data"}, "unknown dataset"),
        ({"model": "no-such-model"}, "unknown model"),
        ({"optimizer": {"name": "momentum", "momentum": -3.0}}, "optimizer"),
        ({"optimizer": {"name": "adam", "no_such_setting": 1}}, "optimizer"),
        ({"budget": 40}, "stages"),
        ({"target": 85}, "target"),
    ],
)
def test_bad_input_fails_up_front(change, message):
    with pytest.raises(BadInput, match=message):
        recommend(dict(SPEC, **change), config=SearchConfig(stages=3))


def test_stage_count_follows_the_budget_in_epochs():
    from workbench.recommend.search import auto_stages

    assert auto_stages(3000, 64 / 3600, 50) == 4  # MNIST-1D: 53 epochs
    assert auto_stages(300, 64 / 1437, 6) == 2  # digits: 13 epochs
    assert auto_stages(150, 32 / 1800, 10) == 2  # the synthetic task: never fewer than 2 …
    assert auto_stages(30, 1.0, 10) == 1  # … unless the budget cannot hold two evaluations each
