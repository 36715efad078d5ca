"""The run spec shared by the recommender tests: the synthetic task, a small budget."""

from __future__ import annotations

SPEC = {
    "dataset": "synthetic", "model": "mlp",
    "optimizer": {"name": "momentum", "momentum": 0.9},
    "policy": {"function": "FIX", "k0": 0.01},
    "batch_size": 32, "budget": 150, "eval_every": 10, "seed": 0,
}  # fmt: skip
