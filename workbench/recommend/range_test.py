"""The LR range test (Smith 2017, "Cyclical Learning Rates", §3.3): train briefly while the
LR grows exponentially, watch the training loss, and read off the LRs where it falls
fastest and where it blows up.

`lr_range_test` works on any torch model and optimizer and puts both back exactly as they
were (weights, buffers, optimizer state, LRs, RNG, train/eval mode). `suggest_range` is the
pure reading of a curve, robust to noise (bias-corrected EMA, divergence must persist) and
to divergence (it cuts the curve there); when it cannot suggest, it says why.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import BadInput

# Reading the curve (documented margins, see suggest_range):
SMOOTHING = 0.9  # EMA factor on the per-iteration loss
MEDIAN_WINDOW = 5  # causal running median before the EMA: one wild batch is not a trend
DIVERGE_FACTOR = 4.0  # smoothed loss this many times its minimum so far = diverged
DIVERGE_PERSIST = 3  # ... for this many consecutive iterations (one noisy batch is not enough)
MIN_DROP = 0.05  # the loss must fall by this fraction of its start to suggest anything
HIGH_BELOW_MIN = 3.0  # high = LR at the loss minimum / this (the minimum is already too hot)
LOW_SPAN = (5.0, 50.0)  # low lies between high/50 and high/5


@dataclass
class RangeTestResult:
    """The curve of a range test and what it suggests.

    `low`/`high` are None when no range could be read; `reason` then says why.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float] = field(default_factory=list)
    low: float | None = None
    high: float | None = None
    lr_at_min: float | None = None
    diverged_at: float | None = None
    reason: str | None = None
    iterations: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def suggestion(self) -> tuple[float, float] | None:
        """(low, high), or None when the test could not suggest a range."""
        return None if self.low is None or self.high is None else (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (non-finite losses stay floats; use workbench.jsonio to write)."""
        return {
            "lrs": self.lrs, "losses": self.losses, "smoothed": self.smoothed,
            "low": self.low, "high": self.high, "lr_at_min": self.lr_at_min,
            "diverged_at": self.diverged_at, "reason": self.reason,
            "iterations": self.iterations, **self.extra,
        }  # fmt: skip

    def plot(self, path: str | Path | None = None) -> Any:
        """Loss (raw and smoothed) against LR on a log axis, the suggested range shaded."""
        from workbench.policies.plot import pyplot

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7, 4))
        finite = [(x, y) for x, y in zip(self.lrs, self.losses, strict=True) if math.isfinite(y)]
        if finite:
            ax.plot(*zip(*finite, strict=True), alpha=0.3, label="loss")
        n = len(self.smoothed)
        ax.plot(self.lrs[:n], self.smoothed, label="smoothed")
        if self.suggestion:
            ax.axvspan(self.low, self.high, color="tab:green", alpha=0.15, label="suggested")
        if self.diverged_at:
            ax.axvline(self.diverged_at, color="tab:red", linestyle="--", label="diverged")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        if self.smoothed:  # frame the smoothed curve; a blown-up raw loss would flatten it
            low = min(self.smoothed)
            ax.set_ylim(low - 0.1 * abs(low), 1.25 * max(self.smoothed[0], low))
        ax.set_title(self.reason or f"LR range test: suggested [{self.low:.3g}, {self.high:.3g}]")
        ax.legend(fontsize=8)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
            plt.close(fig)
        return fig


def _smooth(losses: list[float], beta: float) -> list[float]:
    """Causal median of 5 (drops single wild batches), then a bias-corrected EMA; the curve
    ends at the first non-finite loss."""
    out: list[float] = []
    avg = 0.0
    for i, loss in enumerate(losses):
        if not math.isfinite(loss):
            break
        window = sorted(losses[max(0, i - MEDIAN_WINDOW + 1) : i + 1])
        avg = beta * avg + (1 - beta) * window[len(window) // 2]
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def _divergence(smoothed: list[float], n_raw: int) -> int | None:
    """Index where the smoothed loss has stayed DIVERGE_FACTOR × its minimum for
    DIVERGE_PERSIST steps (or where the raw loss went non-finite)."""
    best, run = math.inf, 0
    for i, y in enumerate(smoothed):
        best = min(best, y)
        run = run + 1 if y > DIVERGE_FACTOR * best else 0
        if run >= DIVERGE_PERSIST:
            return i - DIVERGE_PERSIST + 1
    return len(smoothed) if len(smoothed) < n_raw else None


def suggest_range(lrs: list[float], losses: list[float]) -> RangeTestResult:
    """Read [low, high] off a range-test curve, or say why not.

    high = (LR at the smoothed-loss minimum before divergence) / HIGH_BELOW_MIN; low = the
    LR where the loss had made a tenth of its total drop, clipped to [high/50, high/5].
    """
    res = RangeTestResult(list(lrs), list(losses), iterations=len(lrs))
    smoothed = _smooth(list(losses), SMOOTHING)
    res.smoothed = smoothed
    cut = _divergence(smoothed, len(losses))
    if cut is not None and cut < len(lrs):
        res.diverged_at = lrs[cut]
    usable = smoothed[: cut if cut is not None else len(smoothed)]
    if len(usable) < 5:
        res.reason = "diverged almost at once: lower the start LR (lr_min)"
        return res
    i_min = min(range(len(usable)), key=usable.__getitem__)
    start = usable[0]
    drop = start - usable[i_min]
    if not (start > 0 and drop > MIN_DROP * start):
        res.reason = (
            f"the loss never fell by {MIN_DROP:.0%} (from {start:.3g} to {usable[i_min]:.3g}): "
            "raise lr_max or the number of steps"
        )
        return res
    if i_min >= len(usable) - 1 and res.diverged_at is None:
        # Still falling at the end of the sweep: the minimum is not in the range swept.
        res.extra["note"] = "loss still falling at lr_max; the suggested high is a lower bound"
    res.lr_at_min = lrs[i_min]
    high = lrs[i_min] / HIGH_BELOW_MIN
    i_start = next(i for i, y in enumerate(usable) if y <= start - 0.1 * drop)
    low = min(max(lrs[i_start], high / LOW_SPAN[1]), high / LOW_SPAN[0])
    res.low, res.high = float(low), float(high)
    return res


def lr_schedule(lr_min: float, lr_max: float, steps: int) -> list[float]:
    """The exponential sweep lr_min → lr_max over `steps` iterations."""
    if not (0 < lr_min < lr_max and math.isfinite(lr_max)):
        raise BadInput(f"range test: need 0 < lr_min < lr_max (got {lr_min!r}, {lr_max!r})")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 10:
        raise BadInput(f"range test: steps must be an integer >= 10 (got {steps!r})")
    ratio = (lr_max / lr_min) ** (1.0 / (steps - 1))
    return [lr_min * ratio**i for i in range(steps)]


def _cycle(batches: Iterable[Any] | Callable[[], Iterable[Any]]) -> Iterator[Any]:
    while True:
        source = batches() if callable(batches) else batches
        empty = True
        for b in source:
            empty = False
            yield b
        if empty:
            raise BadInput("range test: the batch source yielded nothing")
        if not callable(batches) and iter(batches) is batches:
            raise BadInput("range test: the batch iterator ran out; pass a list or a callable")


def lr_range_test(
    model: Any,
    optimizer: Any,
    batches: Iterable[Any] | Callable[[], Iterable[Any]],
    *,
    loss_fn: Callable[[Any, Any], Any] | None = None,
    lr_min: float = 1e-5,
    lr_max: float = 10.0,
    steps: int = 100,
    stop_on_divergence: bool = True,
) -> RangeTestResult:
    """Run the sweep on `model`/`optimizer` with (inputs, targets) batches and restore both
    exactly afterwards (state dicts, LRs, torch RNG, train/eval mode), even on error."""
    import torch
    import torch.nn.functional as F

    loss_fn = loss_fn or F.cross_entropy
    lrs = lr_schedule(lr_min, lr_max, steps)
    saved_model = copy.deepcopy(model.state_dict())
    saved_opt = copy.deepcopy(optimizer.state_dict())
    saved_rng = torch.get_rng_state()
    saved_mode = [m.training for m in model.modules()]
    losses: list[float] = []
    try:
        model.train()
        if hasattr(optimizer, "train"):  # schedule-free optimizers have modes
            optimizer.train()
        source = _cycle(batches)
        for lr in lrs:
            x, y = next(source)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            losses.append(value)
            if stop_on_divergence and (not math.isfinite(value) or _far_above(losses)):
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_opt)
        torch.set_rng_state(saved_rng)
        for m, mode in zip(model.modules(), saved_mode, strict=True):
            m.training = mode
    return suggest_range(lrs[: len(losses)], losses)


def _far_above(losses: list[float]) -> bool:
    # Stop the sweep once the raw loss is far past any recovery: saves iterations only.
    return len(losses) > 10 and losses[-1] > 4 * DIVERGE_FACTOR * min(losses)


# Sweep bounds per optimizer kind: adaptive optimizers normalise the gradient, so their
# useful LRs sit two to three orders lower than SGD's.
SWEEPS: dict[str, tuple[float, float]] = {
    "sgd": (1e-4, 10.0), "momentum": (1e-4, 10.0), "nesterov": (1e-4, 10.0),
    "schedulefree-sgd": (1e-4, 10.0), "adadelta": (1e-3, 100.0),
}  # fmt: skip
ADAPTIVE_SWEEP = (1e-6, 1.0)


def sweep_bounds(optimizer: str) -> tuple[float, float]:
    """Default (lr_min, lr_max) of the sweep for an optimizer name."""
    return SWEEPS.get(optimizer.lower(), ADAPTIVE_SWEEP)


def default_steps(budget: int) -> int:
    """Sweep length for a budget: 5% of it, between 60 and 200 iterations."""
    return int(min(200, max(60, budget // 20)))


def range_test(
    run_spec: Any,
    *,
    steps: int | None = None,
    lr_min: float | None = None,
    lr_max: float | None = None,
    trainer: Any = None,
) -> RangeTestResult:
    """The range test on a task (a run spec; its policy is ignored), from its initial
    weights, or on a live `trainer` (which is left exactly as it was)."""
    import time

    from workbench.recommend.defaults import optimizer_name
    from workbench.train import RunSpec, Trainer

    if isinstance(run_spec, dict) and "policy" not in run_spec:  # the sweep sets its own LRs
        run_spec = dict(run_spec, policy={"function": "FIX", "k0": 0.01})
    spec = RunSpec.parse(run_spec).to_dict()
    lo, hi = sweep_bounds(optimizer_name(spec))
    lr_min, lr_max = lr_min or lo, lr_max or hi
    steps = steps or default_steps(int(spec["budget"]))
    if trainer is None:
        spec.update(policy={"function": "FIX", "k0": lr_min}, kind="range_test", run_id=None)
        trainer = Trainer(spec)
    data = trainer.data
    start = trainer.iteration

    def batches() -> Iterator[Any]:
        for i in range(start, start + steps):
            x, y = trainer.batcher.batch(i)
            if data.augment is not None:
                x = data.augment(x, trainer.aug_gen)
            yield data.normalize(x), y

    t0 = time.perf_counter()
    with trainer.private_rng():  # the run's own RNG (dropout), put back afterwards
        aug_state = trainer.aug_gen.get_state()
        try:
            res = lr_range_test(
                trainer.model, trainer.optimizer, batches, lr_min=lr_min, lr_max=lr_max, steps=steps
            )
        finally:
            trainer.aug_gen.set_state(aug_state)
    res.extra.update(seconds=time.perf_counter() - t0, lr_min=lr_min, lr_max=lr_max)
    return res
