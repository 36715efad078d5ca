"""The LR range test: the model and optimizer are left exactly as before; the reading of
the curve is robust to noise and divergence and says why when it cannot suggest."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from workbench.errors import BadInput
from workbench.recommend.range_test import lr_range_test, suggest_range


def _problem(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 10, generator=g)
    y = (x[:, :3].sum(1) > 0).long() + (x[:, 3] > 1).long()
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(10, 32),
        torch.nn.BatchNorm1d(32),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(32, 3),
    )
    batches = [(x[i : i + 64], y[i : i + 64]) for i in range(0, 512, 64)]
    return model, batches


@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
def test_model_and_optimizer_are_restored_exactly(opt_name):
    model, batches = _problem()
    if opt_name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    for x, y in batches[:3]:  # some optimizer state (momentum buffers, Adam moments)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    before_model = {k: v.clone() for k, v in model.state_dict().items()}
    before_opt = opt.state_dict()
    before_state = {
        k: {n: t.clone() if torch.is_tensor(t) else t for n, t in s.items()}
        for k, s in before_opt["state"].items()
    }
    before_groups = [dict(g) for g in before_opt["param_groups"]]
    rng = torch.get_rng_state()

    res = lr_range_test(model, opt, batches, lr_min=1e-4, lr_max=10.0, steps=60)

    assert len(res.losses) >= 10
    for k, v in model.state_dict().items():
        assert torch.equal(v, before_model[k]), k
    after = opt.state_dict()
    assert after["param_groups"] == before_groups
    for k, s in after["state"].items():
        for n, t in s.items():
            if torch.is_tensor(t):
                assert torch.equal(t, before_state[k][n]), (k, n)
    assert torch.equal(torch.get_rng_state(), rng)
    assert not model.training and not any(m.training for m in model.modules())
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in before_groups]


def test_a_real_sweep_suggests_a_range_below_divergence():
    model, batches = _problem(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    res = lr_range_test(model, opt, batches, lr_min=1e-4, lr_max=100.0, steps=120)
    assert res.suggestion is not None, res.reason
    low, high = res.suggestion
    assert 1e-4 <= low < high <= res.lr_at_min
    if res.diverged_at is not None:
        assert high < res.diverged_at
    path = res.plot()
    assert path is not None


def _curve(noise: float, diverge: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    lrs = list(np.geomspace(1e-4, 10, 200))
    losses = []
    for lr in lrs:  # falls between 1e-3 and 1e-1, flat, then blows up past 1
        base = 2.3 - 1.8 / (1 + math.exp(-3 * (math.log10(lr) + 2)))
        if diverge and lr > 1.0:
            base *= math.exp(6 * (math.log10(lr)))
        losses.append(base * (1 + noise * rng.standard_normal()))
    return lrs, losses


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_suggestion_is_robust_to_noise_and_divergence(seed):
    lrs, losses = _curve(noise=0.15, diverge=True, seed=seed)
    losses[120] = 50.0  # one wild batch must not count as divergence
    res = suggest_range(lrs, losses)
    assert res.suggestion is not None, res.reason
    assert res.diverged_at is not None and res.diverged_at > 1.0
    assert 1e-3 < res.high < 1.0 and res.low < res.high


def test_nan_ends_the_curve():
    lrs, losses = _curve(noise=0.0, diverge=False)
    losses[150:] = [float("nan")] * 50
    res = suggest_range(lrs, losses)
    assert res.diverged_at == lrs[150] and res.suggestion is not None


def test_no_suggestion_says_why():
    flat = suggest_range(list(np.geomspace(1e-6, 1e-5, 50)), [2.3] * 50)
    assert flat.suggestion is None and "never fell" in flat.reason
    boom = suggest_range(list(np.geomspace(1.0, 10, 50)), [2.3, float("nan")] + [1.0] * 48)
    assert boom.suggestion is None and "diverged" in boom.reason


def test_bad_sweep_settings():
    model, batches = _problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with pytest.raises(BadInput):
        lr_range_test(model, opt, batches, lr_min=1.0, lr_max=0.1)
    with pytest.raises(BadInput):
        lr_range_test(model, opt, batches, steps=3)
