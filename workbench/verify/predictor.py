"""Schedule-aware prediction of the best accuracy a run can still reach, and the rule on it.

The model is the one of Tissue et al. 2024 ("Scaling Law with Learning Rate Annealing") read
as an *upper bound* on accuracy rather than a point forecast, because DESIGN.md measured the
point forecasts as poor on small tasks:

- progress: error falls as a power of the LR area S1 (the sum of LRs so far, counted from
  take-off, like the warm-up shift of Luo et al. 2025). The exponent is fitted on the
  running best after take-off (log error against log S1; the steeper of the recent-half
  and whole-curve fits; constrained ≥ 0, the asymptote pinned at 0 — the most optimistic
  choice) and multiplied by a safety factor; the area still to come is known exactly from
  the policy, so a decay that starves the run of area, or a rise that feeds it, counts;
- annealing: a lower LR lowers the noise floor. With the floor B·η (B a task constant), the
  gain from annealing the momentum-smoothed LR from η_now to the lowest η ahead is at most
  B·(η_now − η_min). Since error ≥ floor at every point seen, B ≤ min(error/η) over the
  curve (and over earlier curves of the task, when the store has them), with η the lowest
  LR of the recent past (the error lags behind an LR rise); a safety factor on B keeps
  the bound loose. A run plateauing before a scheduled drop therefore keeps
  its full error as potential gain and is not rejected.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from workbench.policies import from_spec
from workbench.verify.context import Schedule, VerifyContext
from workbench.verify.rules import Decision

_EPS = 1e-4


@dataclass
class Prediction:
    """An optimistic estimate of the best accuracy reachable within the budget."""

    upper: float
    now: float
    progress_error: float
    anneal_gain: float
    alpha: float
    noise_b: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x (0 for fewer than two distinct x)."""
    if len(x) < 2 or np.ptp(x) == 0:
        return 0.0
    return float(np.polyfit(x, y, 1)[0])


def noise_bound(errors: np.ndarray, smooth_lrs: np.ndarray) -> float:
    """Upper bound on the noise-floor constant B from error ≥ B·η at every point."""
    ok = smooth_lrs > 0
    if not np.any(ok):
        return math.inf
    return float(np.min(errors[ok] / smooth_lrs[ok]))


def prior_noise_bound(
    curves: list[dict[str, Any]] | None, metric: str = "val_top1", floor_acc: float = 0.15
) -> float:
    """The same bound over earlier curves of the task ({policy, budget, history} dicts).

    Only points above `floor_acc` count, and no diverged curve: a net broken by a huge LR
    sits at chance whatever the LR, which says nothing about the noise floor.
    """
    best = math.inf
    for curve in curves or []:
        if curve.get("status") == "diverged":
            continue
        try:
            pol = from_spec(curve["policy"])
            budget = int(curve.get("budget") or max(p["iteration"] for p in curve["history"]))
            sch = Schedule.of(pol, budget)
            pts = [
                p
                for p in curve["history"]
                if p.get("iteration", 0) > 0
                and isinstance(p.get(metric), int | float)
                and math.isfinite(p[metric])
                and p[metric] >= floor_acc
                and p["iteration"] <= budget
            ]
            if not pts:
                continue
            err = np.array([max(1.0 - p[metric], _EPS) for p in pts])
            lr = np.array([sch.trailing_min[int(p["iteration"])] for p in pts])
            best = min(best, noise_bound(err, lr))
        except (KeyError, TypeError, ValueError):
            continue  # a malformed stored curve teaches nothing; never block verification
    return best


def predict(
    context: VerifyContext,
    *,
    slope_safety: float = 2.5,
    slope_floor: float = 0.02,
    b_safety: float = 2.0,
    window: float = 0.5,
    prior_b: float = math.inf,
    floor_acc: float = 0.0,
    shift: bool = True,
) -> Prediction | None:
    """Optimistic best accuracy by the end of the budget, or None with too few points."""
    its, acc = context.series(context.metric)
    if len(acc) < 3:
        return None
    sch = context.schedule
    # The running best, not the raw curve: validation accuracy is noisy (±2% on 400
    # examples) and a dip must neither flatten the fitted slope nor lower "now".
    err = np.clip(1.0 - np.maximum.accumulate(acc), _EPS, 1.0)
    idx = np.array([sch.at(int(t)) for t in its])
    area = sch.area[idx]
    keep = area > 0
    its, err, area, idx = its[keep], err[keep], area[keep], idx[keep]
    if len(err) < 3:
        return None
    e_now = float(err[-1])
    # Slopes are fitted after take-off only: a flat start at chance says nothing of the rate.
    up = err <= 1.0 - floor_acc
    # The area spent at chance before take-off does not count (like the warm-up shift S_W
    # of Luo et al.'s law): a late take-off otherwise looks like a slow power law.
    ref = float(area[~up][-1]) if shift and up.any() and (~up).any() else 0.0
    if ref > 0 and up.sum() >= 3:
        up = up & (area > ref)
    area = np.maximum(area - ref, 1e-12)
    area_end_eff = float(sch.area[-1]) - ref
    fa, fe = (area[up], err[up]) if up.sum() >= 3 else (area, err)
    k = max(3, int(math.ceil(window * len(fe))))
    # The steeper of the recent and the whole-curve slopes: either alone is noisy.
    alpha_recent = -_slope(np.log(fa[-k:]), np.log(fe[-k:]))
    alpha_all = -_slope(np.log(fa), np.log(fe))
    alpha_fit = max(alpha_recent, alpha_all)
    alpha = max(alpha_fit, 0.0) * slope_safety + slope_floor
    area_end = area_end_eff
    progress_error = e_now * (area_end / float(area[-1])) ** (-alpha)

    learned = err <= 1.0 - floor_acc
    own_b = noise_bound(err[learned], sch.trailing_min[idx[learned]])
    b = min(own_b, prior_b) * b_safety
    now_lr = float(sch.smooth[idx[-1]])
    lowest_ahead = float(np.min(sch.smooth[idx[-1] :]))
    drop = max(now_lr - lowest_ahead, 0.0)
    # No usable bound on B (no LR seen yet above 0) leaves any drop worth the whole error.
    if drop <= 0:
        anneal_gain = 0.0
    elif math.isfinite(b):
        anneal_gain = min(b * drop, progress_error)
    else:
        anneal_gain = progress_error
    upper = 1.0 - max(progress_error - anneal_gain, 0.0)
    return Prediction(
        upper=float(upper),
        now=1.0 - e_now,
        progress_error=float(progress_error),
        anneal_gain=float(anneal_gain),
        alpha=float(alpha),
        noise_b=float(b),
        details={
            "alpha_recent": float(alpha_recent),
            "alpha_all": float(alpha_all),
            "area_now": float(area[-1]),
            "area_end": area_end,
            "area_ratio": area_end / float(area[-1]),
            "lr_now": now_lr,
            "lr_lowest_ahead": lowest_ahead,
            "points": len(err),
        },
    )


class UnreachableTarget:
    """Rejects when even an optimistic, schedule-aware forecast stays below the target.

    Grace: `grace` of the budget (0.2), `min_points` trained points, accuracy already
    `takeoff` above chance (a run still at chance is StuckAtChance's business; power laws
    say nothing before take-off), and at most `max_area_ratio` (3×) of the LR area so far
    still to come (a warm-up or a rising schedule is not extrapolated across a decade of
    area). Margin: reject only if the optimistic forecast (see the module docstring: fitted
    slope × `slope_safety` (2.5) + `slope_floor`, noise constant × `b_safety` (2)) is below
    target − `margin` (0.02). `use_store`: tighten the noise bound with earlier curves of
    the task (the context's `prior_curves`, else read from its store), times a further
    `prior_safety` (2). Calibrated by benchmarks/verify_calibration.py: the log-log slope
    of MNIST-1D curves grows as training goes on, so slope factors below ~2 falsely
    rejected rising-LR policies (LINEAR, SIG) there.
    """

    name = "unreachable_target"

    def __init__(
        self,
        grace: float = 0.2,
        min_points: int = 5,
        margin: float = 0.02,
        takeoff: float = 0.05,
        slope_safety: float = 2.5,
        slope_floor: float = 0.02,
        b_safety: float = 2.0,
        max_area_ratio: float = 3.0,
        use_store: bool = True,
        prior_safety: float = 2.0,
        shift: bool = True,
    ):
        self.grace, self.min_points, self.margin, self.takeoff = grace, min_points, margin, takeoff
        self.slope_safety, self.slope_floor, self.b_safety = slope_safety, slope_floor, b_safety
        self.max_area_ratio, self.use_store = max_area_ratio, use_store
        self.prior_safety, self.shift = prior_safety, shift
        self._prior_cache: tuple[Any, str, float] | None = None

    def _prior_b(self, context: VerifyContext) -> float:
        if not self.use_store:
            return math.inf
        source = context.prior_curves if context.prior_curves is not None else context.store
        task = json.dumps(context.task, sort_keys=True, default=str)
        cached = self._prior_cache
        if cached is None or cached[0] is not source or cached[1] != task:
            curves = context.prior_curves
            if curves is None and context.store is not None:
                from workbench.verify.prior import curves_from_store

                curves = curves_from_store(context.store, context.task)
            floor = context.chance_level() + self.takeoff
            # Other policies' curves transfer less surely than the run's own: extra margin.
            bound = prior_noise_bound(curves, context.metric, floor) * self.prior_safety
            # Read once per run and task: the store's other runs do not change under us.
            self._prior_cache = cached = (source, task, bound)
        return cached[2]

    def should_stop(self, context: VerifyContext) -> Decision | None:
        """Reject when the optimistic forecast of the best accuracy misses the target."""
        if context.target is None or context.fraction < self.grace:
            return None
        if len(context.series(context.metric)[1]) < self.min_points:
            return None
        pred = predict(
            context,
            slope_safety=self.slope_safety,
            slope_floor=self.slope_floor,
            b_safety=self.b_safety,
            prior_b=self._prior_b(context),
            floor_acc=context.chance_level() + self.takeoff,
            shift=self.shift,
        )
        if pred is None or pred.now < context.chance_level() + self.takeoff:
            return None
        if pred.details["area_ratio"] > self.max_area_ratio:
            return None  # too far to extrapolate: most of the LR area is still to come
        if pred.upper >= context.target - self.margin:
            return None
        return Decision(
            self.name,
            context.iteration,
            f"optimistic forecast {pred.upper:.3f} < target {context.target:.3f} − "
            f"margin {self.margin:g} (progress to error {pred.progress_error:.3f}, "
            f"annealing gain ≤ {pred.anneal_gain:.3f})",
            evidence=pred.to_dict(),
            predicted_final=pred.upper,
        )
