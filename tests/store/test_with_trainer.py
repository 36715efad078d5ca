"""The recorder on a real (tiny) training run: what the store holds is what train returned."""

from __future__ import annotations

import math

import pytest

from workbench.store import Recorder, open_store


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def test_recorder_with_the_training_engine(tmp_path) -> None:
    train_mod = pytest.importorskip("workbench.train")
    store = open_store(f"sqlite:///{tmp_path / 'real.sqlite'}")
    spec = {
        "dataset": "mnist1d",
        "model": "cnn1d",
        "optimizer": {"name": "momentum", "momentum": 0.9},
        "policy": {"function": "FIX", "k0": 0.05},
        "batch_size": 32,
        "budget": 20,
        "eval_every": 10,
        "seed": 0,
        "target": 0.5,
        "subset": 256,
        "threads": 1,
        "device": "cpu",
        "job_id": "real-job",
    }
    result = train_mod.train(spec, callbacks=[Recorder(store)], progress=False).to_dict()
    run = store.run(result["run_id"])
    assert run["status"] == result["status"] and run["job_id"] == "real-job"
    assert run["policy_hash"] == result["policy_hash"]
    assert len(run["history"]) == len(result["history"]) >= 3
    for got, sent in zip(run["history"], result["history"], strict=True):
        for key, value in sent.items():
            assert _same(got[key], value), key
    for key in ("iterations", "final_top1", "best_top1", "iterations_to_target"):
        assert _same(run[key], result[key]), key
    # Training the same job again replaces the record.
    again = train_mod.train(spec, callbacks=[Recorder(store)], progress=False)
    assert list(store.runs(job_id="real-job")["run_id"]) == [again.run_id]
