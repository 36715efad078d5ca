"""Evaluation metrics against hand computations on fixed tensors."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.train import evaluate, utility_metrics


def _logits_for(probs: list[list[float]]) -> torch.Tensor:
    return torch.tensor(probs).log()


def test_utility_metrics_by_hand():
    # predictions: 0 (p .7, correct), 1 (p .6, correct), 1 (p .5, wrong: label 2),
    #              2 (p .9, correct), 0 (p .8, correct)
    probs = [[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.2, 0.5, 0.3], [0.05, 0.05, 0.9], [0.8, 0.1, 0.1]]
    y = torch.tensor([0, 1, 2, 2, 0])
    got = utility_metrics(_logits_for(probs), y)
    correct = [0.7, 0.6, 0.9, 0.8]
    mean = sum(correct) / 4
    std = math.sqrt(sum((c - mean) ** 2 for c in correct) / 4)
    per_class = [(0.7 + 0.8) / 2, 0.6, 0.9]
    pc_mean = sum(per_class) / 3
    cvac = math.sqrt(sum((c - pc_mean) ** 2 for c in per_class) / 3)
    assert got["confidence_mean"] == pytest.approx(mean, abs=1e-6)
    assert got["confidence_std"] == pytest.approx(std, abs=1e-6)
    assert got["cvac"] == pytest.approx(cvac, abs=1e-6)


def test_utility_leaves_out_classes_without_a_correct_prediction():
    probs = [[0.9, 0.1, 0.0001], [0.6, 0.4, 0.0001], [0.2, 0.7, 0.1]]
    got = utility_metrics(_logits_for(probs), torch.tensor([0, 2, 1]))
    assert got["confidence_mean"] == pytest.approx(0.8, abs=1e-4)
    assert got["cvac"] == pytest.approx(0.1, abs=1e-4)  # classes 0 (.9) and 1 (.7)
    none = utility_metrics(_logits_for(probs), torch.tensor([1, 2, 0]))
    assert all(math.isnan(v) for v in none.values())


def test_evaluate_loss_top1_top5_in_batches():
    torch.manual_seed(0)
    logits = torch.randn(23, 7)
    y = torch.randint(0, 7, (23,))
    model = torch.nn.Identity()
    got = evaluate(model, logits, y, prefix="test", num_classes=7, normalize=lambda x: x,
                   batch_size=5, utility=True)  # fmt: skip
    assert got["test_loss"] == pytest.approx(
        torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-5
    )
    assert got["test_top1"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    top5 = (logits.topk(5, 1).indices == y[:, None]).any(1).float().mean().item()
    assert got["test_top5"] == pytest.approx(top5)
    whole = utility_metrics(logits, y)
    for key, value in whole.items():
        assert got[key] == pytest.approx(value, rel=1e-9)


def test_top5_is_nan_below_six_classes():
    got = evaluate(torch.nn.Identity(), torch.randn(4, 3), torch.tensor([0, 1, 2, 0]),
                   prefix="val", num_classes=3, normalize=lambda x: x)  # fmt: skip
    assert math.isnan(got["val_top5"]) and "cvac" not in got
