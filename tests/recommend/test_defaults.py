"""The paper's baselines and the modern reference points."""

from __future__ import annotations

import pytest

from workbench.errors import BadInput
from workbench.policies import from_spec
from workbench.recommend import defaults


def test_lenet_default_is_caffe_inv_at_its_own_budget():
    task = {
        "dataset": "mnist",
        "model": "lenet5",
        "optimizer": {"name": "momentum"},
        "batch_size": 64,
    }
    p = defaults.default_policy(task, 10_000)
    assert p.to_spec() == {"function": "INV", "k0": 0.01, "gamma": 1e-4, "p": 0.75}


def test_default_is_retargeted_to_the_budget():
    task = {"model": "cnn1d", "optimizer": {"name": "momentum"}}
    p = defaults.default_policy(task, 2_500)
    full = from_spec(defaults.LENET_MNIST.policy)
    # The same shape: the LR at the same fraction of the budget is the same.
    assert p(1_000) == pytest.approx(full(4_000))
    assert p(0) == 0.01


def test_resnet_and_cnn3_baselines():
    resnet = defaults.default_policy({"model": "resnet20", "optimizer": "momentum"}, 6_400)
    assert resnet.to_spec() == {"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [3200, 4800]}
    cnn3 = defaults.default_policy({"model": "cnn3", "optimizer": {"name": "sgd"}}, 600)
    assert cnn3.to_spec() == {"function": "FIX", "k0": 0.001}
    nstep = defaults.CNN3_CIFAR10_NSTEP.at(7_000).to_spec()
    assert nstep["l"] == [6000, 6500]


@pytest.mark.parametrize(("name", "lr"), [("adam", 1e-3), ("adamw", 1e-3), ("rmsprop", 1e-2)])
def test_adaptive_optimizers_get_their_framework_default(name, lr):
    p = defaults.default_policy({"model": "lenet5", "optimizer": {"name": name}}, 1000)
    assert p.to_spec() == {"function": "FIX", "k0": lr}


def test_provenance_is_documented():
    for b in defaults.PAPER_BASELINES.values():
        assert b.source and from_spec(b.policy)
    assert "Caffe" in defaults.default_explanation({"model": "lenet5", "optimizer": "momentum"})


def test_modern_baselines_use_the_given_peak():
    out = defaults.modern_baselines(
        0.2, 1000, {"name": "momentum", "momentum": 0.9, "weight_decay": 5e-4}
    )
    assert set(out) == {"one-cycle", "warmup-cosine", "schedule-free"}
    for b in out.values():
        assert max(from_spec(b.policy).values(1000)) == pytest.approx(0.2)
    assert out["schedule-free"].optimizer == {
        "name": "schedulefree-sgd",
        "momentum": 0.9,
        "weight_decay": 5e-4,
    }
    adam = defaults.modern_baselines(1e-3, 1000, {"name": "adam"})
    assert adam["schedule-free"].optimizer["name"] == "schedulefree-adamw"


def test_bad_inputs():
    with pytest.raises(BadInput):
        defaults.default_policy({"model": "lenet5", "optimizer": {"name": "nonsense"}}, 100)
    with pytest.raises(BadInput):
        defaults.default_policy({"model": "lenet5", "optimizer": "momentum"}, 0)
    with pytest.raises(BadInput):
        defaults.modern_baselines(0.0, 100, {"name": "adam"})
