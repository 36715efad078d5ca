"""The run spec (DESIGN.md "Run spec"): one JSON-able description of a training run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.errors import BadInput
from workbench.policies import from_spec

# Fields that define the task (what a checkpoint may be restored into).
TASK_FIELDS = ("dataset", "model", "optimizer", "batch_size")
# Fields that also fix the data and initial weights: a restore must keep them.
RESTORE_FIXED = (
    *TASK_FIELDS,
    "seed",
    "subset",
    "val_fraction",
    "eval_subset",
    "augment",
    "dataset_options",
)


class RunSpec(BaseModel):
    """A validated run spec; unknown extra fields are kept."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    dataset: str
    model: str
    optimizer: dict[str, Any]  # {"name": …, **settings}; a bare name is accepted
    policy: dict[str, Any]  # a policy spec (workbench.policies)
    batch_size: int = Field(gt=0)
    budget: int = Field(gt=0)  # iterations (optimizer steps)
    eval_every: int = Field(gt=0)  # iterations between evaluation points
    seed: int = Field(ge=0)  # initial weights, validation carve, data order, augmentation
    target: float | None = Field(default=None, gt=0, le=1)  # validation top-1 to reach
    stop_at_target: bool = False  # end the run (stopped, target_reached) once reached
    data_root: str | None = None  # local datasets folder (default: paths.data_root())
    download: bool = False  # let torchvision download (needs a network)
    dataset_options: dict[str, Any] = Field(default_factory=dict)  # builder keywords
    subset: int | None = Field(default=None, gt=0)  # training examples kept
    eval_subset: int | None = Field(default=None, gt=0)  # validation and test examples kept
    val_fraction: float = Field(default=0.1, ge=0, lt=1)  # of the training data
    augment: bool | None = None  # None: the dataset's default (on for CIFAR)
    eval_batch_size: int = Field(default=1024, gt=0)
    device: str = "auto"  # "auto": CUDA when present, else CPU
    amp: bool = False  # bfloat16 autocast (CUDA only)
    threads: int | None = Field(default=None, gt=0)  # torch.set_num_threads
    checkpoint_every: int | None = Field(default=None, gt=0)  # at evaluation points
    checkpoint_dir: str | None = None  # default: store/checkpoints/<run_id>/
    run_id: str | None = None
    job_id: str | None = None
    kind: str = "train"
    search_id: str | None = None
    tags: dict[str, Any] = Field(default_factory=dict)
    schema_: int | None = Field(default=None, alias="schema")

    @field_validator("optimizer", mode="before")
    @classmethod
    def _optimizer_dict(cls, value: Any) -> Any:
        # "momentum" is shorthand for {"name": "momentum"}.
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, Mapping):
            if not isinstance(value.get("name"), str):
                raise ValueError('needs a "name", e.g. {"name": "momentum", "momentum": 0.9}')
            return dict(value)
        raise ValueError("must be a name or a dict with a name")

    @field_validator("policy", mode="before")
    @classmethod
    def _policy_valid(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValueError("must be a policy spec (a dict)")
        from_spec(value)  # raises PolicyError naming the bad field
        return dict(value)

    @field_validator("schema_")
    @classmethod
    def _schema_known(cls, value: int | None) -> int | None:
        if value is not None and value > 1:
            raise ValueError(f"schema {value} is newer than this workbench understands (1)")
        return value

    @classmethod
    def parse(cls, obj: Any) -> RunSpec:
        """A RunSpec from a RunSpec, a dict, a JSON string or a path; `BadInput` on error."""
        if isinstance(obj, RunSpec):
            return obj.model_copy(deep=True)
        if isinstance(obj, str | Path) and not (isinstance(obj, str) and obj.lstrip()[:1] == "{"):
            path = Path(obj)
            if not path.is_file():
                raise BadInput(f"run spec file not found: {path}")
            obj = path.read_text()
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except json.JSONDecodeError as exc:
                raise BadInput(f"run spec: not valid JSON ({exc})") from None
        if not isinstance(obj, Mapping):
            raise BadInput(f"run spec: expected an object, got {type(obj).__name__}")
        try:
            return cls.model_validate(dict(obj))
        except ValidationError as exc:
            raise BadInput(_describe(exc)) from None
        except BadInput as exc:  # a PolicyError raised outside pydantic's wrapping
            raise BadInput(f"run spec: policy: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON-able dict (defaults filled in, extra fields kept)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=False)

    def task(self) -> dict[str, Any]:
        """The task: dataset, model, optimizer (with settings), batch size."""
        return {k: getattr(self, k) for k in TASK_FIELDS}


def _describe(exc: ValidationError) -> str:
    """One message naming every bad field."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "spec"
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        # Policy errors already quote the bad value.
        quiet = err["type"] == "missing" or "(got " in msg
        shown = "" if quiet else f" (got {value!r})"
        parts.append(f"{field}: {msg}{shown}")
    return "run spec: " + "; ".join(parts)
