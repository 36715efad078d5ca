"""Task lookups match partial specs: the trainer records optimizer settings with defaults.

Runs on every backend (in-memory SQLite, file SQLite, PostgreSQL).
"""

from __future__ import annotations

import pytest

from tests.store.fakes import fake_train, make_spec
from workbench.errors import BadInput
from workbench.policies import from_spec
from workbench.store import Recorder, Store, task_id

COS = {"function": "COS", "k0": 0.001, "k1": 0.1, "l": 1000}
FIX = {"function": "FIX", "k0": 0.05}
# What `workbench.train` fills in for "momentum" (the store must not import it).
MOMENTUM_DEFAULTS = {"momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0}
FULL = {
    "dataset": "mnist1d",
    "model": "cnn1d",
    "batch_size": 64,
    "optimizer": {"name": "momentum", **MOMENTUM_DEFAULTS},
}
PARTIAL = {
    "dataset": "mnist1d",
    "model": "cnn1d",
    "batch_size": 64,
    "optimizer": {"name": "momentum", "momentum": 0.9},
}
CONFLICT = {**PARTIAL, "optimizer": {"name": "momentum", "momentum": 0.5}}


def _spec(**overrides: object) -> dict:
    # A user's run spec names only the momentum; the trainer's task has every default.
    return make_spec(**{"optimizer": {"name": "momentum", "momentum": 0.9}, **overrides})


def _record_like_the_trainer(store: Store) -> dict[str, str]:
    rec = Recorder(store)
    ids = {}
    fix_curves = {
        0: [0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.9, 0.91, 0.92],
        1: [0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.9, 0.91, 0.92],
        2: [0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89],
    }
    for seed, curve in fix_curves.items():
        run = fake_train(rec, _spec(seed=seed), curve, optimizer_defaults=MOMENTUM_DEFAULTS)
        ids[f"fix{seed}"] = run.run_id
    for seed in range(3):
        curve = [0.1, 0.5, 0.9, 0.92, 0.93, 0.93, 0.94, 0.94, 0.94, 0.95, 0.96 + 0.01 * seed]
        run = fake_train(
            rec, _spec(seed=seed, policy=COS), curve, optimizer_defaults=MOMENTUM_DEFAULTS
        )
        ids[f"cos{seed}"] = run.run_id
    probe = _spec(policy={"function": "EXP", "k0": 0.1, "gamma": 0.99}, kind="probe")
    ids["probe"] = fake_train(rec, probe, [0.99] * 3, optimizer_defaults=MOMENTUM_DEFAULTS).run_id
    other = _spec(dataset="digits", model="lenet5")
    ids["other"] = fake_train(rec, other, [0.2, 0.3], optimizer_defaults=MOMENTUM_DEFAULTS).run_id
    return ids


def test_runs_recorded_with_defaults_are_found_by_a_partial_spec(store: Store) -> None:
    ids = _record_like_the_trainer(store)
    assert store.run(ids["fix0"])["task"] == FULL  # recorded with the defaults filled in
    mine = {ids[f"{p}{s}"] for p in ("fix", "cos") for s in range(3)} | {ids["probe"]}
    assert set(store.runs(task=PARTIAL)["run_id"]) == mine
    assert set(store.runs(task=_spec())["run_id"]) == mine  # a run spec, as the user wrote it
    assert set(store.runs(task=FULL)["run_id"]) == mine  # the complete task, exactly
    assert set(store.runs(task=task_id(FULL))["run_id"]) == mine  # its id
    assert set(store.runs(task=PARTIAL)["task_id"]) == {task_id(FULL)}
    # 0.9 and 0 name the same values as 0.90 and 0.0; a name alone matches any settings.
    zero = {**PARTIAL, "optimizer": {"name": "momentum", "momentum": 0.90, "dampening": 0}}
    assert set(store.runs(task=zero)["run_id"]) == mine
    assert set(store.runs(task={**PARTIAL, "optimizer": "momentum"})["run_id"]) == mine
    # Partial dicts without some fields still filter on the settings given.
    assert len(store.runs(task={"optimizer": {"name": "momentum", "momentum": 0.9}})) == 8
    assert list(store.runs(task={"dataset": "digits"})["run_id"]) == [ids["other"]]
    assert len(store.runs(task=PARTIAL, policy=FIX)) == 3


def test_a_conflicting_setting_finds_nothing(store: Store) -> None:
    _record_like_the_trainer(store)
    store.record_search({"search_id": "s1", "task": FULL, "policy": COS})
    fix, cos = from_spec(FIX).hash, from_spec(COS).hash
    for task in (
        CONFLICT,
        _spec(optimizer={"name": "momentum", "momentum": 0.5}),
        {**PARTIAL, "optimizer": {"name": "momentum", "weight_decay": 0.0005}},
        {**PARTIAL, "optimizer": {"name": "momentum", "nesterov": True}},  # not a setting of it
        {**PARTIAL, "optimizer": {"name": "sgd", "momentum": 0.9}},
        {**PARTIAL, "batch_size": 128},
    ):
        assert store.runs(task=task).empty, task
        assert store.policy_summary(task).empty, task
        assert store.history_for_task(task).empty, task
        assert store.searches(task).empty, task
        assert store.verdicts(task=task).empty, task
        out = store.speedup(task, cos, fix, target=0.9)
        assert out["seeds"] == [] and out["speedup"] is None, task
        with pytest.raises(BadInput, match="no finished baseline runs"):
            store.speedup(task, cos, fix)


def test_policy_summary_of_a_partial_spec(store: Store) -> None:
    _record_like_the_trainer(store)
    summary = store.policy_summary(PARTIAL)
    assert summary.equals(store.policy_summary(FULL))
    fix, cos = summary.loc[from_spec(FIX).hash], summary.loc[from_spec(COS).hash]
    assert list(summary.index) == [from_spec(COS).hash, from_spec(FIX).hash]  # probe left out
    assert (fix["runs"], fix["seeds"], fix["met_target"]) == (3, 3, 2)
    assert cos["met_target"] == 3 and cos["median_iterations_to_target"] == 200
    assert store.policy_summary(_spec()).equals(summary)


def test_history_for_task_of_a_partial_spec(store: Store) -> None:
    ids = _record_like_the_trainer(store)
    store.record_verdict(ids["fix2"], {"verdict": "rejected", "rule": "unreachable"})
    hist = store.history_for_task(PARTIAL)
    assert set(hist["run_id"]) == {ids[f"{p}{s}"] for p in ("fix", "cos") for s in range(3)}
    assert hist.set_index("run_id").loc[ids["fix2"], "verdict"] == "rejected"
    assert len(store.history_for_task(_spec(), include_probes=True)) == 7
    assert list(store.verdicts(task=PARTIAL)["run_id"]) == [ids["fix2"]]


def test_speedup_of_a_partial_spec(store: Store) -> None:
    _record_like_the_trainer(store)
    fix, cos = from_spec(FIX).hash, from_spec(COS).hash
    out = store.speedup(PARTIAL, cos, fix, target=0.9)
    assert out["seeds"] == [0, 1, 2] and out["task_id"] == task_id(FULL)
    assert out["baseline"]["censored"] == 1 and out["policy"]["censored"] == 0
    assert out["speedup"] == pytest.approx(800 / 200)
    assert store.speedup(_spec(), cos, fix, target=0.9)["speedup"] == pytest.approx(4)
    default = store.speedup(PARTIAL, cos[:10], fix[:10])
    assert default["target"] == pytest.approx(0.92)
    assert default["speedup"] == pytest.approx(1000 / 300)


def test_searches_of_a_partial_spec(store: Store) -> None:
    _record_like_the_trainer(store)
    store.record_search({"search_id": "s1", "task": FULL, "policy": COS, "status": "done"})
    store.record_search({"search_id": "s2", "spec": _spec(dataset="digits", model="lenet5")})
    assert list(store.searches(PARTIAL)["search_id"]) == ["s1"]
    assert list(store.searches(_spec())["search_id"]) == ["s1"]
    assert list(store.searches(FULL)["search_id"]) == ["s1"]
    assert list(store.searches(task_id(FULL))["search_id"]) == ["s1"]
    assert list(store.searches({"dataset": "digits"})["search_id"]) == ["s2"]
    assert len(store.searches()) == 2


def test_a_partial_spec_matches_every_task_holding_its_settings(store: Store) -> None:
    rec = Recorder(store)
    full = fake_train(rec, _spec(seed=0), [0.5], optimizer_defaults=MOMENTUM_DEFAULTS)
    # An older record of the task exactly as the spec gave it, and one with weight decay.
    as_given = fake_train(rec, _spec(seed=1), [0.5])
    wd = {**MOMENTUM_DEFAULTS, "weight_decay": 0.0005}
    decayed = fake_train(
        rec,
        _spec(seed=2, optimizer={"name": "momentum", "weight_decay": 0.0005}),
        [0.5],
        optimizer_defaults=wd,
    )
    assert len(set(store.runs()["task_id"])) == 3
    everything = {full.run_id, as_given.run_id, decayed.run_id}
    assert set(store.runs(task=PARTIAL)["run_id"]) == everything
    no_decay = {**PARTIAL, "optimizer": {**FULL["optimizer"]}}
    assert set(store.runs(task=no_decay)["run_id"]) == {full.run_id}  # complete: exact
    decay = {**PARTIAL, "optimizer": {"name": "momentum", "weight_decay": 5e-4}}
    assert set(store.runs(task=decay)["run_id"]) == {decayed.run_id}
    # A boolean setting only equals a boolean.
    flag = fake_train(
        rec,
        _spec(seed=3, optimizer={"name": "adam"}),
        [0.5],
        optimizer_defaults={"amsgrad": False, "betas": [0.9, 0.999]},
    )
    adam = {**PARTIAL, "optimizer": {"name": "adam", "amsgrad": False}}
    assert set(store.runs(task=adam)["run_id"]) == {flag.run_id}
    assert store.runs(task={**adam, "optimizer": {"name": "adam", "amsgrad": 0}}).empty
    betas = {**adam, "optimizer": {"name": "adam", "betas": (0.9, 0.999)}}
    assert set(store.runs(task=betas)["run_id"]) == {flag.run_id}
    with pytest.raises(BadInput, match="batch_size"):
        store.runs(task={**PARTIAL, "batch_size": "many"})
    with pytest.raises(BadInput, match="task id or a dict"):
        store.runs(task=42)
