"""The training loop: one run = task + policy + budget, evaluated every `eval_every`.

The policy's scheduler sets the LR (stepped once after each optimizer step), so the LR used
at iteration t is policy(t). Callbacks are the only way out. The state (model, optimizer,
scheduler, RNG states, clock, history) can be taken at any pause and restored exactly.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from workbench import paths
from workbench.errors import BadInput
from workbench.policies import Policy, from_spec
from workbench.train.callbacks import Callback, ProgressBar, RunContext, StopRequest
from workbench.train.datasets import Batcher, DataBundle, prepare_data
from workbench.train.metrics import evaluate
from workbench.train.models import build_model
from workbench.train.optimizers import build_optimizer, is_mode_switching, optimizer_settings
from workbench.train.provenance import provenance
from workbench.train.spec import RESTORE_FIXED, RunSpec

NAN = math.nan
STATE_FORMAT = 1
POINT_KEYS = (
    "iteration", "epoch", "lr", "train_loss", "val_loss", "val_top1", "val_top5",
    "test_loss", "test_top1", "test_top5", "confidence_mean", "confidence_std", "cvac",
    "train_seconds", "wall_seconds",
)  # fmt: skip
# How often (iterations) non-finite losses are read back: every step on the CPU (free),
# every few steps on an accelerator (each read is a host sync).
SYNC_EVERY = {"cpu": 1}
SYNC_EVERY_DEFAULT = 25
PROGRESS_EVERY = 10
# Schedule-Free evaluates at its averaged weights, but BatchNorm's running statistics were
# gathered at the training weights; schedulefree's documented fix is a few train-mode
# forward passes, without gradients, with the optimizer in eval mode, before evaluating.
# At most this many training batches (and at most one epoch) are used for that.
BN_BATCHES = 20


@dataclass
class RunResult:
    """The outcome of a run (or of a paused run, with status `running`)."""

    run_id: str
    status: str
    stop_reason: str | None
    iterations: int
    epochs: float
    final_top1: float
    best_top1: float
    final_test_top1: float
    best_test_top1: float
    iterations_to_target: int | None
    seconds_to_target: float | None
    robustness_gap: float
    train_seconds: float
    eval_seconds: float
    wall_seconds: float
    spec: dict[str, Any]
    task: dict[str, Any]
    policy_hash: str
    provenance: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain dict (keys of docs/contracts.md)."""
        out = dict(self.__dict__)
        out["history"] = [dict(p) for p in self.history]
        return out


def resolve_device(name: str) -> torch.device:
    """ "auto" → CUDA when present, else CPU; anything else as torch understands it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise BadInput(f"device: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"device: {name!r} requested but CUDA is not available; use 'auto'")
    return device


class _LossMeter:
    """Sum of training losses since the last point, kept on the device between reads."""

    def __init__(self, device: torch.device, on_host: bool):
        self.on_host = on_host
        self.sum: Any = 0.0 if self.on_host else torch.zeros((), device=device)
        self.count = 0
        self.bad = False

    def add(self, loss: torch.Tensor) -> None:
        if self.on_host:
            value = loss.item()
            self.sum += value
            if not math.isfinite(value):
                self.bad = True
        else:
            self.sum += loss.detach().float()  # stays on the device: no sync
        self.count += 1

    def finite(self) -> bool:
        """False once a non-finite loss was added (a host sync on accelerators)."""
        if not self.on_host and not self.bad:
            self.bad = not bool(torch.isfinite(self.sum))
        return not self.bad

    def take(self) -> float:
        """Mean since the last take (NaN when no iterations), then reset."""
        mean = float(self.sum) / self.count if self.count else NAN
        self.sum = 0.0 if self.on_host else torch.zeros_like(self.sum)
        self.count = 0
        return mean

    def state(self) -> dict[str, Any]:
        return {"sum": float(self.sum), "count": self.count, "bad": self.bad}

    def load(self, state: dict[str, Any]) -> None:
        self.sum = (
            state["sum"] if self.on_host else torch.tensor(state["sum"], device=self.sum.device)
        )
        self.count, self.bad = state["count"], state["bad"]


def batchnorm_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The model's BatchNorm layers that keep running statistics."""
    return [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


def recompute_bn(
    model: torch.nn.Module,
    inputs: Iterable[torch.Tensor],
    layers: Sequence[torch.nn.Module] | None = None,
) -> int:
    """Recompute BatchNorm running statistics over `inputs`; returns the number of batches.

    Train-mode forward passes without gradients, at the model's current weights. The
    statistics are reset first and averaged with equal weights (momentum None, as
    `torch.optim.swa_utils.update_bn`), so they depend on these batches only, not on what
    the layers had seen before. The model's train/eval mode is left as it was.
    """
    layers = batchnorm_layers(model) if layers is None else list(layers)
    if not layers:
        return 0
    momenta = [m.momentum for m in layers]
    was_training = model.training
    count = 0
    try:
        for m in layers:
            m.reset_running_stats()
            m.momentum = None
        model.train()
        with torch.no_grad():
            for x in inputs:
                model(x)
                count += 1
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)
    return count


def _has_progress(callback: Any) -> bool:
    """Whether a callback really implements `on_progress` (not the base class no-op)."""
    method = getattr(type(callback), "on_progress", None)
    return method is not None and method is not Callback.on_progress


def _call(callback: Any, name: str, *args: Any) -> Any:
    method = getattr(callback, name, None)
    return method(*args) if method is not None else None


class Trainer:
    """A run that can be paused (`run(until)`), checkpointed (`state`/`save`) and restored."""

    def __init__(
        self,
        spec: RunSpec | dict[str, Any] | str | Path,
        callbacks: Sequence[Any] = (),
        progress: bool = False,
    ):
        self.spec = RunSpec.parse(spec)
        s = self.spec
        self.policy: Policy = from_spec(s.policy)
        self.device = resolve_device(s.device)
        if s.amp and self.device.type != "cuda":
            raise BadInput("amp: mixed precision needs a CUDA device; set amp=false")
        self.data: DataBundle = prepare_data(s, self.device)
        self.model = self._build_model()
        self.optimizer = build_optimizer(s.optimizer, self.model.parameters(), self.policy(0))
        self.scheduler = self.policy.scheduler(self.optimizer)
        self.mode_switching = is_mode_switching(s.optimizer["name"])
        # Only averaging (mode-switching) optimizers evaluate at weights BN has not seen.
        self.bn_layers = batchnorm_layers(self.model) if self.mode_switching else []
        self.task = task_of(s)
        self.batcher = Batcher(self.data.train, s.batch_size, s.seed)
        self.callbacks: list[Any] = list(callbacks)
        if s.checkpoint_every:
            self.callbacks.append(CheckpointEvery(s.checkpoint_every, s.checkpoint_dir))
        if progress:
            self.callbacks.append(ProgressBar())
        self.sync_every = SYNC_EVERY.get(self.device.type, SYNC_EVERY_DEFAULT)
        # Run state (all of it goes into a checkpoint).
        self.iteration = 0
        self.history: list[dict[str, Any]] = []
        self.status = "running"
        self.stop_reason: str | None = None
        self.error: str | None = None
        self.train_seconds = self.eval_seconds = self.wall_seconds = 0.0
        self.started = False  # whether the iteration-0 point was taken
        # Read every loss on the host only where that costs no device sync.
        self.meter = _LossMeter(self.device, on_host=self.sync_every == 1)
        self.rng = self._initial_rng()
        self.extra_provenance: dict[str, Any] = {}
        self.context = self._context(s.run_id or uuid.uuid4().hex)
        self._announced = False
        self._in_run = False
        self._ended = False

    # --- construction ---------------------------------------------------------------------

    def _build_model(self) -> torch.nn.Module:
        # Seeded init without disturbing the caller's global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.spec.seed)
            model = build_model(self.spec.model, self.data.input_shape, self.data.num_classes)
        return model.to(self.device)

    def _initial_rng(self) -> dict[str, Any]:
        """RNG states private to this run: the global ones are swapped in while it runs."""
        seed = self.spec.seed
        aug = torch.Generator(device=self.device).manual_seed(seed * 7919 + 17)
        state = {
            "torch": torch.Generator().manual_seed(seed * 7919 + 3).get_state(),
            "augment": aug.get_state(),
        }
        if self.device.type == "cuda":
            # The default CUDA generator's own format, so set_rng_state accepts it.
            with torch.random.fork_rng(devices=[self.device]):
                torch.cuda.manual_seed(seed * 7919 + 5)
                state["cuda"] = torch.cuda.get_rng_state(self.device)
        self.aug_gen = aug
        return state

    def _context(self, run_id: str) -> RunContext:
        s = self.spec
        threads = s.threads or torch.get_num_threads()
        prov = provenance(self.device, s.seed, threads)
        prov["data"] = dict(self.data.info)
        return RunContext(
            run_id=run_id,
            spec=s.to_dict(),
            policy=self.policy,
            budget=s.budget,
            target=s.target,
            task=self.task,
            provenance=prov,
            history=self.history,
            started_at=time.time(),
            _trainer=self,
        )

    @property
    def run_id(self) -> str:
        """This run's id."""
        return self.context.run_id

    # --- the loop -------------------------------------------------------------------------

    def run(self, until: int | None = None) -> RunResult:
        """Train to `until` (default: the budget) or until a stop; call again to continue."""
        if self.status != "running":
            return self.result()
        end = self.spec.budget if until is None else max(0, min(int(until), self.spec.budget))
        wall0 = time.perf_counter()
        try:
            with self.private_rng():
                if not self._announced:
                    self._announced = True
                    for cb in self.callbacks:
                        _call(cb, "on_run_start", self.context)
                if not self.started:
                    self.started = True
                    self._point(wall0)
                self._train_until(end, wall0)
        except KeyboardInterrupt:
            self._finish("interrupted", "keyboard_interrupt", wall0)
            raise
        except Exception:
            self.error = traceback.format_exc()
            if not self._ended:  # a callback failing in on_run_end does not end it twice
                self._finish("failed", "error", wall0)
        finally:
            self.wall_seconds += time.perf_counter() - wall0
        return self.result()

    def _train_until(self, end: int, wall0: float) -> None:
        s = self.spec
        model, opt, sched, meter = self.model, self.optimizer, self.scheduler, self.meter
        normalize, augment, batcher = self.data.normalize, self.data.augment, self.batcher
        eval_every, budget, sync_every = s.eval_every, s.budget, self.sync_every
        progress = [cb for cb in self.callbacks if _has_progress(cb)]
        autocast = self._autocast()
        stop_event = self.context._stop
        self._train_mode()
        t0 = time.perf_counter()
        while self.status == "running" and self.iteration < end:
            x, y = batcher.batch(self.iteration)
            if augment is not None:
                x = augment(x, self.aug_gen)
            x = normalize(x)
            with autocast():
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            meter.add(loss)
            self.iteration += 1
            it = self.iteration
            if it % sync_every == 0 and not meter.finite():
                t0 = self._end_segment(t0)
                self._finish("diverged", "non_finite_loss", wall0)
                return
            if stop_event.is_set():
                t0 = self._end_segment(t0)
                self._finish("stopped", self.context._stop_reason or "user", wall0)
                return
            if progress and it % PROGRESS_EVERY == 0:
                for cb in progress:
                    cb.on_progress(self.context, it)
            if it % eval_every == 0 or it == budget:
                t0 = self._end_segment(t0)
                if not meter.finite():
                    self._finish("diverged", "non_finite_loss", wall0)
                    return
                self._point(wall0)
                if self.status == "running":
                    self._train_mode()
                t0 = time.perf_counter()
        self._end_segment(t0)
        if self.status == "running" and self.iteration >= budget:
            self._finish("completed", None, wall0)  # no new point: one was just taken

    def _end_segment(self, t0: float) -> float:
        """Add the training time since `t0` (synchronising an accelerator first)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.train_seconds += now - t0
        return now

    def _train_mode(self) -> None:
        self.model.train()
        if self.mode_switching:
            self.optimizer.train()

    def _autocast(self) -> Callable[[], Any]:
        if self.spec.amp:
            return lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext

    # --- evaluation points and the end --------------------------------------------------------

    def _record_point(self, wall0: float) -> dict[str, Any]:
        """Evaluate now, timed, and append the point to the history."""
        t0 = time.perf_counter()
        point = self._evaluate()
        self.eval_seconds += time.perf_counter() - t0
        point["wall_seconds"] = self.wall_seconds + (time.perf_counter() - wall0)
        self.history.append(point)
        self.context.iteration = self.iteration
        return point

    def _point(self, wall0: float) -> None:
        """Take an evaluation point, hand it to the callbacks, act on stop requests."""
        point = self._record_point(wall0)
        target = self.spec.target
        if (
            self.spec.stop_at_target
            and target is not None
            and _top1(point) >= target
            and self.status == "running"
        ):
            self.status, self.stop_reason = "stopped", "target_reached"
        for cb in self.callbacks:
            answer = _call(cb, "on_eval", self.context, point)
            if answer is not None and self.status == "running":
                request = answer if isinstance(answer, StopRequest) else StopRequest(str(answer))
                self.status, self.stop_reason = request.status, request.reason
        if self.status == "running" and self.context.stop_requested:
            self.status, self.stop_reason = "stopped", self.context._stop_reason or "user"
        if self.status != "running":
            self._finish(self.status, self.stop_reason, wall0, point=False)

    def _evaluate(self) -> dict[str, Any]:
        s, data = self.spec, self.data
        self.model.eval()
        if self.mode_switching:
            self.optimizer.eval()
            if self.bn_layers:
                self._recompute_bn()
        autocast = self._autocast() if s.amp else None
        common = dict(
            num_classes=data.num_classes,
            normalize=data.normalize,
            batch_size=s.eval_batch_size,
            autocast=autocast,
        )
        point: dict[str, Any] = dict.fromkeys(POINT_KEYS, NAN)
        point.update(
            iteration=self.iteration,
            epoch=self.batcher.epoch(self.iteration),
            lr=float(self.policy(self.iteration)),
            train_loss=self.meter.take(),
        )
        if data.val is not None:
            point.update(evaluate(self.model, data.val.x, data.val.y, prefix="val", **common))
        point.update(
            evaluate(self.model, data.test.x, data.test.y, prefix="test", utility=True, **common)
        )
        point["train_seconds"] = self.train_seconds
        return point

    def bn_iterations(self) -> range:
        """Training batches (by iteration) for BN statistics before a Schedule-Free evaluation.

        The last `BN_BATCHES` before now, at most one epoch; the first ones at the start.
        """
        k = max(1, min(BN_BATCHES, math.ceil(self.batcher.n / self.spec.batch_size)))
        start = max(0, self.iteration - k)
        return range(start, start + k)

    def _recompute_bn(self) -> None:
        """BN statistics at the weights being evaluated (the optimizer is in eval mode).

        Batches are a pure function of (seed, iteration) and go unaugmented, and the RNG
        states are restored after (dropout would draw), so evaluating consumes nothing the
        training stream uses: a resumed or forked run stays exact.
        """
        normalize, batcher = self.data.normalize, self.batcher
        inputs = (normalize(batcher.batch(t)[0]) for t in self.bn_iterations())
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), self._autocast()():
            recompute_bn(self.model, inputs, self.bn_layers)

    def _finish(self, status: str, reason: str | None, wall0: float, point: bool = True) -> None:
        """End the run: a last point (unless just taken), status, `on_run_end`."""
        self._ended = True
        self.status, self.stop_reason = status, reason
        if (
            point
            and status != "failed"
            and (not self.history or self.history[-1]["iteration"] != self.iteration)
        ):
            with contextlib.suppress(Exception):  # a broken model must not hide the status
                self._point_quiet(wall0)
        result = self.result(wall_extra=time.perf_counter() - wall0).to_dict()
        for cb in self.callbacks:
            _call(cb, "on_run_end", self.context, result)

    def _point_quiet(self, wall0: float) -> None:
        """The final point of a stopped run: recorded and shown, no more stop decisions."""
        point = self._record_point(wall0)
        for cb in self.callbacks:
            _call(cb, "on_eval", self.context, point)

    # --- results ----------------------------------------------------------------------------

    def result(self, wall_extra: float = 0.0) -> RunResult:
        """The run's result so far."""
        h = self.history
        top1 = [_top1(p) for p in h]
        test = [p["test_top1"] for p in h]
        last = h[-1] if h else dict.fromkeys(POINT_KEYS, NAN)
        reached = self._reached()
        prov = dict(self.context.provenance, **self.extra_provenance)
        return RunResult(
            run_id=self.run_id,
            status=self.status,
            stop_reason=self.stop_reason,
            iterations=self.iteration,
            epochs=self.batcher.epoch(self.iteration),
            final_top1=top1[-1] if top1 else NAN,
            best_top1=_nanmax(top1),
            final_test_top1=test[-1] if test else NAN,
            best_test_top1=_nanmax(test),
            iterations_to_target=reached["iteration"] if reached else None,
            seconds_to_target=reached["train_seconds"] if reached else None,
            robustness_gap=last["test_loss"] - _last_finite_train_loss(h),
            train_seconds=self.train_seconds,
            eval_seconds=self.eval_seconds,
            wall_seconds=self.wall_seconds + wall_extra,
            spec=self.spec.to_dict(),
            task=self.task,
            policy_hash=self.policy.hash,
            provenance=prov,
            history=copy.deepcopy(h),
            error=self.error,
        )

    def _reached(self) -> dict[str, Any] | None:
        target = self.spec.target
        if target is None:
            return None
        return next((p for p in self.history if _top1(p) >= target), None)

    # --- checkpoints --------------------------------------------------------------------------

    @contextlib.contextmanager
    def private_rng(self):
        """Swap this run's RNG states and thread count in, and the caller's back after.

        Private RNG states mean interleaved forks never disturb each other (or the caller).
        """
        saved_threads = torch.get_num_threads()
        if self.spec.threads:
            torch.set_num_threads(self.spec.threads)
        saved_cpu = torch.get_rng_state()
        cuda = self.device.type == "cuda"
        saved_cuda = torch.cuda.get_rng_state(self.device) if cuda else None
        torch.set_rng_state(self.rng["torch"])
        if cuda:
            torch.cuda.set_rng_state(self.rng["cuda"], self.device)
        self._in_run = True
        try:
            yield
        finally:
            self._in_run = False
            torch.set_num_threads(saved_threads)
            self.rng["torch"] = torch.get_rng_state()
            torch.set_rng_state(saved_cpu)
            if cuda:
                self.rng["cuda"] = torch.cuda.get_rng_state(self.device)
                torch.cuda.set_rng_state(saved_cuda, self.device)
            self.rng["augment"] = self.aug_gen.get_state()

    def _rng_now(self) -> dict[str, Any]:
        """This run's RNG states; live ones when asked from a callback during `run`."""
        rng = {**self.rng, "augment": self.aug_gen.get_state()}
        if self._in_run:
            rng["torch"] = torch.get_rng_state()
            if self.device.type == "cuda":
                rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return rng

    def state(self) -> dict[str, Any]:
        """An in-memory checkpoint: model, optimizer, scheduler, RNGs, clock, history."""
        return copy.deepcopy(
            {
                "format": STATE_FORMAT,
                "run_id": self.run_id,
                "spec": self.spec.to_dict(),
                "iteration": self.iteration,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": self._rng_now(),
                "meter": self.meter.state(),
                "history": self.history,
                "status": self.status,
                "stop_reason": self.stop_reason,
                "started": self.started,
                "seconds": {
                    "train": self.train_seconds,
                    "eval": self.eval_seconds,
                    "wall": self.wall_seconds,
                },
                "provenance": self.extra_provenance,
            }
        )

    def save(self, path: str | Path) -> Path:
        """Write `state()` to `path` (torch.save; written atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        torch.save(self.state(), tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def restore(
        cls,
        state_or_path: dict[str, Any] | str | Path,
        spec: RunSpec | dict[str, Any] | None = None,
        callbacks: Sequence[Any] = (),
        progress: bool = False,
    ) -> Trainer:
        """Continue from a checkpoint; with `spec`, as a new run (e.g. another policy)."""
        state = _load_state(state_or_path)
        old = RunSpec.parse(state["spec"])
        new = old if spec is None else RunSpec.parse(spec)
        _check_same_task(old, new)
        trainer = cls(new, callbacks=callbacks, progress=progress)
        trainer._load(state, same_run=spec is None)
        return trainer

    def _load(self, state: dict[str, Any], same_run: bool) -> None:
        state = copy.deepcopy(state)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.rng = state["rng"]
        self.aug_gen.set_state(self.rng["augment"])
        self.meter.load(state["meter"])
        self.iteration = self.context.iteration = state["iteration"]
        self.history[:] = state["history"]
        self.started = state["started"]
        self.status, self.stop_reason = state["status"], state["stop_reason"]
        secs = state["seconds"]
        self.train_seconds, self.eval_seconds = secs["train"], secs["eval"]
        self.wall_seconds = secs["wall"]
        self.extra_provenance = dict(state.get("provenance", {}))
        if same_run:
            self.context.run_id = state["run_id"]
        else:
            self.extra_provenance["forked_from"] = {
                "run_id": state["run_id"],
                "iteration": state["iteration"],
            }
        # A fork with a longer budget continues a run that had completed.
        if self.status == "completed" and self.iteration < self.spec.budget:
            self.status, self.stop_reason = "running", None


def task_of(spec: RunSpec) -> dict[str, Any]:
    """The task of a spec, its optimizer settings completed with their defaults."""
    task = spec.task()
    settings = optimizer_settings(spec.optimizer)
    opt = {"name": spec.optimizer["name"].lower()}
    opt.update({k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()})
    task["optimizer"] = opt
    return task


def _load_state(state_or_path: dict[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(state_or_path, dict):
        state = state_or_path
    else:
        path = Path(state_or_path)
        if not path.is_file():
            raise BadInput(f"checkpoint not found: {path}")
        state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("format") != STATE_FORMAT:
        raise BadInput(f"checkpoint format {state.get('format')!r} is not {STATE_FORMAT}")
    return state


def _check_same_task(old: RunSpec, new: RunSpec) -> None:
    diffs = [k for k in RESTORE_FIXED if getattr(old, k) != getattr(new, k)]
    if diffs:
        raise BadInput(
            f"restore: the checkpoint's run differs in {', '.join(diffs)}; a restored run may "
            "change the policy, budget, target and evaluation settings, not the task or data"
        )


def _top1(point: dict[str, Any]) -> float:
    """The accuracy that chooses: validation top-1 where a validation split exists."""
    v = point["val_top1"]
    return point["test_top1"] if v != v else v


def _nanmax(values: Iterable[float]) -> float:
    finite = [v for v in values if v == v]
    return max(finite) if finite else NAN


def _last_finite_train_loss(history: list[dict[str, Any]]) -> float:
    return history[-1]["train_loss"] if history else NAN


def train(
    spec: RunSpec | dict[str, Any] | str | Path,
    callbacks: Sequence[Any] = (),
    progress: bool = True,
) -> RunResult:
    """Run a spec to its end (budget or stop) and return the result."""
    return Trainer(spec, callbacks=callbacks, progress=progress).run()


def default_checkpoint_dir(run_id: str) -> Path:
    """Where `checkpoint_every` saves go when the spec names no folder."""
    return paths.store_path("checkpoints", run_id, "x").parent


class CheckpointEvery(Callback):
    """Saves a checkpoint every `every` iterations (at evaluation points)."""

    def __init__(self, every: int, folder: str | Path | None = None):
        self.every, self.folder = every, folder

    def on_eval(self, run: RunContext, point: dict[str, Any]) -> None:
        it = point["iteration"]
        if it and it % self.every == 0:
            folder = Path(self.folder) if self.folder else default_checkpoint_dir(run.run_id)
            run.save(folder / f"iter_{it:08d}.pt")
        return None
