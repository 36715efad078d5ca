"""Fake run results in the shape of `RunResult.to_dict()`, for stores filled without training."""

from __future__ import annotations

from typing import Any

from workbench.policies import from_spec

OPT = {"name": "momentum", "momentum": 0.9}


def fake_result(
    policy: dict[str, Any],
    *,
    dataset: str = "synthetic",
    model: str = "mlp",
    seed: int = 0,
    status: str = "completed",
    final: float = 0.8,
    budget: int = 100,
    optimizer: dict = OPT,
    kind: str = "train",
) -> dict[str, Any]:
    """A run result dict in the shape of `RunResult.to_dict()`, with a short history."""
    pol = from_spec(policy)
    points = []
    for i, it in enumerate(range(0, budget + 1, budget // 4)):
        acc = final * (i + 1) / 5
        points.append({
            "iteration": it, "epoch": it / 50, "lr": pol(it), "train_loss": 2.0 / (i + 1),
            "val_loss": 2.1 / (i + 1), "val_top1": acc, "val_top5": min(1.0, acc + 0.1),
            "test_loss": 2.2 / (i + 1), "test_top1": acc - 0.01, "test_top5": acc + 0.05,
            "confidence_mean": 0.5 + i / 20, "confidence_std": 0.1, "cvac": 0.05,
            "train_seconds": float(i), "wall_seconds": float(i) * 1.1,
        })  # fmt: skip
    spec = {
        "dataset": dataset, "model": model, "optimizer": optimizer, "policy": policy,
        "batch_size": 32, "budget": budget, "eval_every": budget // 4, "seed": seed,
        "target": 0.5, "kind": kind,
    }  # fmt: skip
    reached = next((p["iteration"] for p in points if p["val_top1"] >= 0.5), None)
    return {
        "status": status, "stop_reason": None if status == "completed" else "user",
        "iterations": budget, "epochs": budget / 50, "final_top1": final, "best_top1": final,
        "final_test_top1": final - 0.01, "best_test_top1": final - 0.01,
        "iterations_to_target": reached, "seconds_to_target": None if reached is None else 1.0,
        "robustness_gap": 0.1, "train_seconds": 4.0, "eval_seconds": 1.0, "wall_seconds": 5.0,
        "spec": spec, "task": {k: spec[k] for k in ("dataset", "model", "optimizer",
                                                     "batch_size")},
        "policy_hash": pol.hash, "provenance": {}, "history": points, "error": None,
    }  # fmt: skip
