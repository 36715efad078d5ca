"""The store's tables (schema v1, SQLModel). Migrations in `migrations/` create exactly these.

Times are epoch seconds (float) so both backends agree without time-zone handling.
Every float that may be non-finite has a `<name>_kind` column next to it (see `numbers`).
JSON columns hold text written by `workbench.jsonio` (non-finite numbers as strings).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, Index, SmallInteger, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from workbench import jsonio

SCHEMA_VERSION = 1

# Per-evaluation metrics of the training engine (docs/contracts.md), in storage order.
POINT_METRICS = (
    "epoch",
    "lr",
    "train_loss",
    "val_loss",
    "val_top1",
    "val_top5",
    "test_loss",
    "test_top1",
    "test_top5",
    "confidence_mean",
    "confidence_std",
    "cvac",
    "train_seconds",
    "wall_seconds",
)
# The keys of an evaluation point: its iteration, then the metrics.
POINT_KEYS = ("iteration", *POINT_METRICS)

# Per-run summary floats that diverged runs may leave non-finite.
RUN_METRICS = (
    "target",
    "epochs",
    "final_top1",
    "best_top1",
    "final_test_top1",
    "best_test_top1",
    "seconds_to_target",
    "robustness_gap",
    "train_seconds",
    "eval_seconds",
    "wall_seconds",
)


class JsonText(TypeDecorator):
    """JSON kept as text via `workbench.jsonio`, so NaN/±inf survive on every backend."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else jsonio.dumps(value, sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else jsonio.loads(value)


def _json(**kw: Any) -> Any:
    return Field(default=None, sa_column=Column(JsonText, nullable=True, **kw))


def _kind() -> Any:
    return Field(
        default=0, sa_type=SmallInteger, nullable=False, sa_column_kwargs={"server_default": "0"}
    )


class PolicyRow(SQLModel, table=True):
    """A policy by its canonical spec; `hash` is the SHA-256 of the canonical JSON."""

    __tablename__ = "policies"
    hash: str = Field(primary_key=True, max_length=64)
    spec: Any = _json()
    label: str | None = Field(default=None, index=True)
    text: str | None = None
    # ",TRI,COS," so that `LIKE '%,COS,%'` finds policies using a function.
    functions: str = ""
    n_stages: int = 1
    created_at: float = 0.0


class TaskRow(SQLModel, table=True):
    """A task: dataset, model, optimizer with its settings, batch size."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_lookup", "dataset", "model", "optimizer", "batch_size"),)
    id: str = Field(primary_key=True, max_length=64)
    dataset: str
    model: str
    optimizer: str
    optimizer_settings: Any = _json()
    batch_size: int
    created_at: float = 0.0


class RunRow(SQLModel, table=True):
    """One training run: task + policy + budget + seed, its status and summary metrics."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_task_policy", "task_id", "policy_hash", "status"),
        Index("ix_runs_status_heartbeat", "status", "heartbeat_at"),
        Index("ix_runs_kind_task", "kind", "task_id"),
    )
    run_id: str = Field(primary_key=True, max_length=64)
    # Idempotency: hash of the job id and the run spec without volatile fields (unique).
    record_key: str | None = Field(default=None, unique=True, max_length=64)
    job_id: str | None = Field(default=None, index=True)
    kind: str = "train"
    search_id: str | None = Field(default=None, index=True)
    task_id: str = Field(sa_column=Column(Text, ForeignKey("tasks.id"), nullable=False))
    policy_hash: str = Field(
        sa_column=Column(Text, ForeignKey("policies.hash"), nullable=False, index=True)
    )
    budget: int
    seed: int | None = None
    eval_every: int | None = None
    spec_schema: int | None = None
    status: str = "running"
    stop_reason: str | None = None
    iterations: int | None = None
    iterations_to_target: int | None = None
    target: float | None = None
    target_kind: int = _kind()
    epochs: float | None = None
    epochs_kind: int = _kind()
    final_top1: float | None = None
    final_top1_kind: int = _kind()
    best_top1: float | None = None
    best_top1_kind: int = _kind()
    final_test_top1: float | None = None
    final_test_top1_kind: int = _kind()
    best_test_top1: float | None = None
    best_test_top1_kind: int = _kind()
    seconds_to_target: float | None = None
    seconds_to_target_kind: int = _kind()
    robustness_gap: float | None = None
    robustness_gap_kind: int = _kind()
    train_seconds: float | None = None
    train_seconds_kind: int = _kind()
    eval_seconds: float | None = None
    eval_seconds_kind: int = _kind()
    wall_seconds: float | None = None
    wall_seconds_kind: int = _kind()
    started_at: float | None = None
    ended_at: float | None = None
    heartbeat_at: float | None = None
    # Seconds between the last two heartbeats: how long "a few evaluation intervals" is.
    heartbeat_every: float | None = None
    hostname: str | None = None
    pid: int | None = None
    n_points: int = 0
    spec: Any = _json()
    provenance: Any = _json()
    tags: Any = _json()
    error: str | None = Field(default=None, sa_type=Text)
    created_at: float = 0.0


class EvalPointRow(SQLModel, table=True):
    """One evaluation point of a run (primary key: run and completed iterations)."""

    __tablename__ = "eval_points"
    run_id: str = Field(
        sa_column=Column(Text, ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True)
    )
    iteration: int = Field(primary_key=True)
    epoch: float | None = None
    epoch_kind: int = _kind()
    lr: float | None = None
    lr_kind: int = _kind()
    train_loss: float | None = None
    train_loss_kind: int = _kind()
    val_loss: float | None = None
    val_loss_kind: int = _kind()
    val_top1: float | None = None
    val_top1_kind: int = _kind()
    val_top5: float | None = None
    val_top5_kind: int = _kind()
    test_loss: float | None = None
    test_loss_kind: int = _kind()
    test_top1: float | None = None
    test_top1_kind: int = _kind()
    test_top5: float | None = None
    test_top5_kind: int = _kind()
    confidence_mean: float | None = None
    confidence_mean_kind: int = _kind()
    confidence_std: float | None = None
    confidence_std_kind: int = _kind()
    cvac: float | None = None
    cvac_kind: int = _kind()
    train_seconds: float | None = None
    train_seconds_kind: int = _kind()
    wall_seconds: float | None = None
    wall_seconds_kind: int = _kind()
    # Keys of the point beyond the contract's, kept as they came.
    extra: Any = _json()


class VerdictRow(SQLModel, table=True):
    """An auto-verification verdict on a run."""

    __tablename__ = "verdicts"
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(
        sa_column=Column(
            Text, ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    verdict: str = Field(index=True)
    iteration: int | None = None
    compute_fraction: float | None = None
    compute_fraction_kind: int = _kind()
    rule: str | None = None
    predicted_final: float | None = None
    predicted_final_kind: int = _kind()
    shadow: bool = False
    evidence: Any = _json()
    payload: Any = _json()
    created_at: float = 0.0


class DecisionRow(SQLModel, table=True):
    """One stop-rule decision in a verdict's log (shadow or deciding)."""

    __tablename__ = "rule_decisions"
    id: int | None = Field(default=None, primary_key=True)
    verdict_id: int = Field(
        sa_column=Column(ForeignKey("verdicts.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    seq: int = 0
    iteration: int | None = None
    rule: str | None = None
    action: str | None = None
    reason: str | None = Field(default=None, sa_type=Text)
    payload: Any = _json()


class SearchRow(SQLModel, table=True):
    """A recommendation search: the chosen policy, its lineage and the compute spent."""

    __tablename__ = "searches"
    search_id: str = Field(primary_key=True, max_length=64)
    task_id: str | None = Field(
        default=None, sa_column=Column(Text, ForeignKey("tasks.id"), nullable=True, index=True)
    )
    policy_hash: str | None = Field(
        default=None, sa_column=Column(Text, ForeignKey("policies.hash"), nullable=True)
    )
    status: str = "done"
    budget: int | None = None
    target: float | None = None
    target_kind: int = _kind()
    search_iterations: int | None = None
    search_seconds: float | None = None
    explanation: str | None = Field(default=None, sa_type=Text)
    keep_checkpoints: bool = False
    spec: Any = _json()
    lineage: Any = _json()
    verdict: Any = _json()
    payload: Any = _json()
    created_at: float = 0.0
    ended_at: float | None = None


class LedgerRow(SQLModel, table=True):
    """One entry of a search's compute ledger (what was spent on what)."""

    __tablename__ = "search_ledger"
    id: int | None = Field(default=None, primary_key=True)
    search_id: str = Field(
        sa_column=Column(
            Text, ForeignKey("searches.search_id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    seq: int = 0
    stage: int | None = None
    item: str | None = None
    run_id: str | None = None
    iterations: int | None = None
    seconds: float | None = None
    payload: Any = _json()


class SweepRow(SQLModel, table=True):
    """A sweep: a named set of jobs over one notebook."""

    __tablename__ = "sweeps"
    name: str = Field(primary_key=True)
    notebook: str | None = None
    spec: Any = _json()
    created_at: float = 0.0


class JobRow(SQLModel, table=True):
    """A sweep job; `job_id` = hash of (sweep name, notebook, parameters)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_sweep_status", "sweep", "status"),)
    job_id: str = Field(primary_key=True, max_length=64)
    sweep: str | None = Field(
        default=None, sa_column=Column(Text, ForeignKey("sweeps.name", ondelete="CASCADE"))
    )
    notebook: str | None = None
    parameters: Any = _json()
    status: str = "pending"
    run_id: str | None = None
    output: str | None = None
    error: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    worker: str | None = None
    payload: Any = _json()
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None


TABLES = (
    PolicyRow,
    TaskRow,
    RunRow,
    EvalPointRow,
    VerdictRow,
    DecisionRow,
    SearchRow,
    LedgerRow,
    SweepRow,
    JobRow,
)
