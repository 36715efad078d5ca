"""Callbacks: the only way out of the training loop (recorders, progress, stop rules)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from workbench.policies import Policy


@dataclass(frozen=True)
class StopRequest:
    """A callback's request to end the run: `status` is "stopped" or "diverged"."""

    reason: str
    status: str = "stopped"

    def __post_init__(self) -> None:
        if self.status not in ("stopped", "diverged"):
            raise ValueError(f"StopRequest.status: 'stopped' or 'diverged' (got {self.status!r})")


@dataclass
class RunContext:
    """What callbacks see of a run; `history` grows as evaluation points are taken."""

    run_id: str
    spec: dict[str, Any]
    policy: Policy
    budget: int
    target: float | None
    task: dict[str, Any]
    provenance: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    started_at: float = 0.0
    iteration: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _stop_reason: str | None = field(default=None, repr=False)
    _trainer: Any = field(default=None, repr=False)

    def request_stop(self, reason: str = "user") -> None:
        """Ask the loop to stop (thread-safe); it checks every iteration → status `stopped`."""
        self._stop_reason = reason
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether `request_stop` was called."""
        return self._stop.is_set()

    def state(self) -> dict[str, Any]:
        """An in-memory checkpoint of the run at this point (see `Trainer.state`)."""
        return self._trainer.state()

    def save(self, path: Any) -> None:
        """Save a checkpoint of the run at this point to `path`."""
        self._trainer.save(path)


class Callback:
    """No-op base; any object with some of these methods works (duck typing)."""

    def on_run_start(self, run: RunContext) -> None:
        """Called when a Trainer starts (or continues from a checkpoint)."""

    def on_eval(self, run: RunContext, point: dict[str, Any]) -> None | str | StopRequest:
        """Called at every evaluation point; a str or StopRequest ends the run."""
        return None

    def on_run_end(self, run: RunContext, result: dict[str, Any]) -> None:
        """Called once when the run ends, with `RunResult.to_dict()`."""

    def on_progress(self, run: RunContext, iteration: int) -> None:
        """Optional: called every few iterations (progress displays)."""


class ProgressBar(Callback):
    """A tqdm.auto bar over the budget's iterations (renders in notebooks and terminals)."""

    def __init__(self, **tqdm_kwargs: Any):
        self.kwargs = tqdm_kwargs
        self.bar: Any = None
        self._shown = 0

    def on_run_start(self, run: RunContext) -> None:
        from tqdm.auto import tqdm

        desc = f"{run.task['dataset']}/{run.task['model']}"
        self.bar = tqdm(total=run.budget, desc=desc, unit="it", **self.kwargs)
        self._shown = 0
        self.on_progress(run, run.iteration)

    def on_progress(self, run: RunContext, iteration: int) -> None:
        if self.bar is not None and iteration > self._shown:
            self.bar.update(iteration - self._shown)
            self._shown = iteration

    def on_eval(self, run: RunContext, point: dict[str, Any]) -> None:
        self.on_progress(run, point["iteration"])
        if self.bar is not None:
            top1 = (
                point["val_top1"] if point["val_top1"] == point["val_top1"] else point["test_top1"]
            )
            self.bar.set_postfix(loss=f"{point['train_loss']:.4g}", top1=f"{top1:.4f}")
        return None

    def on_run_end(self, run: RunContext, result: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
