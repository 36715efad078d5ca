"""A fake training run shaped exactly as docs/contracts.md says (no trainer needed)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from workbench.policies import Policy, from_spec
from workbench.store.keys import TASK_FIELDS


def make_spec(**overrides: Any) -> dict[str, Any]:
    """The run spec of DESIGN.md, with overrides."""
    spec = {
        "dataset": "mnist1d",
        "model": "cnn1d",
        "optimizer": {"name": "momentum", "momentum": 0.9, "weight_decay": 0.0005},
        "policy": {"function": "FIX", "k0": 0.05},
        "batch_size": 64,
        "budget": 1000,
        "eval_every": 100,
        "seed": 0,
        "target": 0.9,
    }
    spec.update(overrides)
    return spec


def make_point(iteration: int, val_top1: float = 0.5, **overrides: Any) -> dict[str, Any]:
    """An evaluation point with every contract key."""
    p = {
        "iteration": iteration,
        "epoch": iteration / 62.5,
        "lr": 0.05,
        "train_loss": 1.0 / (1 + iteration),
        "val_loss": 0.7,
        "val_top1": val_top1,
        "val_top5": 0.99,
        "test_loss": 0.75,
        "test_top1": val_top1 - 0.01,
        "test_top5": 0.98,
        "confidence_mean": 0.8,
        "confidence_std": 0.1,
        "cvac": 0.05,
        "train_seconds": iteration / 1000,
        "wall_seconds": iteration / 500,
    }
    p.update(overrides)
    return p


@dataclass
class FakeRun:
    """A `RunContext` as the training engine hands it to callbacks."""

    spec: dict[str, Any]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    policy: Policy | None = None
    provenance: dict[str, Any] = field(default_factory=lambda: {"hostname": "test"})
    history: list[dict[str, Any]] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    stopped: str | None = None
    # Optimizer defaults the trainer fills into `task` (e.g. {"dampening": 0.0}).
    optimizer_defaults: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.policy is None:
            self.policy = from_spec(self.spec["policy"])

    @property
    def budget(self) -> int:
        return self.spec["budget"]

    @property
    def target(self) -> float | None:
        return self.spec.get("target")

    @property
    def task(self) -> dict[str, Any]:
        task = {k: self.spec[k] for k in TASK_FIELDS}
        if self.optimizer_defaults:
            task["optimizer"] = {**self.optimizer_defaults, **task["optimizer"]}
        return task

    def request_stop(self, reason: str) -> None:
        self.stopped = reason


def make_result(run: FakeRun, status: str = "completed", **overrides: Any) -> dict[str, Any]:
    """`RunResult.to_dict()` for a fake run, from its history."""
    hist = run.history
    last = hist[-1] if hist else make_point(0)
    target = run.target
    hit = next((p for p in hist if target is not None and p["val_top1"] >= target), None)
    finite = [p["val_top1"] for p in hist if p["val_top1"] == p["val_top1"]]
    result = {
        "run_id": run.run_id,
        "status": status,
        "stop_reason": None,
        "iterations": last["iteration"],
        "epochs": last["epoch"],
        "final_top1": last["val_top1"],
        "best_top1": max(finite) if finite else float("nan"),
        "final_test_top1": last["test_top1"],
        "best_test_top1": max((p["test_top1"] for p in hist), default=None),
        "iterations_to_target": hit["iteration"] if hit else None,
        "seconds_to_target": hit["wall_seconds"] if hit else None,
        "robustness_gap": last["test_loss"] - last["train_loss"],
        "train_seconds": last["train_seconds"],
        "eval_seconds": 0.1,
        "wall_seconds": last["wall_seconds"],
        "spec": run.spec,
        "task": run.task,
        "policy_hash": run.policy.hash,
        "provenance": run.provenance,
        "history": list(hist),
        "error": None,
    }
    result.update(overrides)
    return result


def fake_train(
    recorder: Any,
    spec: dict[str, Any],
    curve: list[float],
    *,
    optimizer_defaults: dict[str, Any] | None = None,
    **result_overrides: Any,
) -> FakeRun:
    """Drive the callbacks like the trainer: start, one point per value, end.

    `optimizer_defaults` are filled into the run's task as the training engine does.
    """
    run = FakeRun(spec=spec, optimizer_defaults=dict(optimizer_defaults or {}))
    recorder.on_run_start(run)
    for i, v in enumerate(curve):
        point = make_point(i * spec["eval_every"], v)
        run.history.append(point)
        recorder.on_eval(run, point)
    recorder.on_run_end(run, make_result(run, **result_overrides))
    return run
