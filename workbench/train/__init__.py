"""The training engine: datasets, models, optimizers, the per-iteration loop, checkpoints.

    >>> from workbench.train import train
    >>> result = train({"dataset": "mnist1d", "model": "cnn1d",
    ...                 "optimizer": {"name": "momentum", "momentum": 0.9},
    ...                 "policy": {"function": "FIX", "k0": 0.05},
    ...                 "batch_size": 64, "budget": 3000, "eval_every": 250, "seed": 0})
    >>> result.status, result.final_top1                                # doctest: +SKIP

Contracts: docs/contracts.md "Training engine".
"""

from workbench.train.callbacks import Callback, ProgressBar, RunContext, StopRequest
from workbench.train.datasets import (
    DATASETS,
    Batcher,
    DataBundle,
    DatasetEntry,
    RawData,
    clear_cache,
    load_raw,
    prepare_data,
    register_dataset,
)
from workbench.train.loop import (
    POINT_KEYS,
    CheckpointEvery,
    RunResult,
    Trainer,
    resolve_device,
    task_of,
    train,
)
from workbench.train.metrics import evaluate, utility_metrics
from workbench.train.models import (
    MODELS,
    ModelEntry,
    build_model,
    compatible_models,
    register_model,
)
from workbench.train.optimizers import (
    OPTIMIZERS,
    OptimizerEntry,
    build_optimizer,
    optimizer_settings,
    register_optimizer,
)
from workbench.train.spec import RunSpec

RESULT_KEYS = (
    "run_id", "status", "stop_reason", "iterations", "epochs", "final_top1", "best_top1",
    "final_test_top1", "best_test_top1", "iterations_to_target", "seconds_to_target",
    "robustness_gap", "train_seconds", "eval_seconds", "wall_seconds", "spec", "task",
    "policy_hash", "provenance", "history", "error",
)  # fmt: skip

__all__ = [
    "DATASETS",
    "MODELS",
    "OPTIMIZERS",
    "POINT_KEYS",
    "RESULT_KEYS",
    "Batcher",
    "Callback",
    "CheckpointEvery",
    "DataBundle",
    "DatasetEntry",
    "ModelEntry",
    "OptimizerEntry",
    "ProgressBar",
    "RawData",
    "RunContext",
    "RunResult",
    "RunSpec",
    "StopRequest",
    "Trainer",
    "build_model",
    "build_optimizer",
    "clear_cache",
    "compatible_models",
    "evaluate",
    "load_raw",
    "optimizer_settings",
    "prepare_data",
    "register_dataset",
    "register_model",
    "register_optimizer",
    "resolve_device",
    "task_of",
    "train",
    "utility_metrics",
]
