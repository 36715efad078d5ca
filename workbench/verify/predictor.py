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
  its full error as potential gain and is not rejected. Two more bounds on the gain:
  the best error so far was reached at some LR, so only the floor between *that* LR (when
  lower than now's) and the lowest ahead can still go; and annealing the run has already
  been through bounds B too: between two points where the LR fell from η1 to η2, progress
  can only have helped, so e1 − e2 ≥ B·(η1 − η2) (η1 the lowest and η2 the highest LR of
  each point's recent past, since the error answers an LR change with a lag; validation
  noise allowed for on both sides). After a step drop the lag can outlast that window: while
  the curve is still climbing since the step (its fitted rise over the last 10% of the
  budget above twice the noise), its error may still sit on the floor of the LR before the
  step, both for the gain ahead and for the annealing-seen bound.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter1d

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


def trailing_max(sch: Schedule, lag: float = 0.1) -> np.ndarray:
    """The highest LR over the last `lag` of the budget (0.1: `Schedule.trailing_min`'s)."""
    budget = len(sch.lrs) - 1
    window = max(int(sch.tau), int(lag * budget), 1)
    return maximum_filter1d(sch.lrs, size=window + 1, origin=window // 2, mode="nearest")


def anneal_bound(
    errors: np.ndarray,
    lr_low: np.ndarray,
    lr_high: np.ndarray,
    noise: float = 0.02,
    min_drop: float = 0.25,
    max_points: int = 256,
) -> float:
    """Upper bound on B from annealing already seen: e_i − e_j ≥ B·(η_i − η_j), i before j.

    `errors` are raw (not running-best) errors in time order; `lr_low`/`lr_high` the lowest
    and highest LR of each point's recent past (the error may still reflect either). Only
    pairs whose LR fell by at least `min_drop` of η_i count; `noise` is allowed on each
    of the two errors. inf when the LR never fell. Over `max_points` points, evenly spaced
    ones stand for the curve (fewer pairs only loosen the bound).
    """
    n = len(errors)
    if n < 2:
        return math.inf
    if n > max_points:
        keep = np.unique(np.linspace(0, n - 1, max_points).astype(int))
        errors, lr_low, lr_high, n = errors[keep], lr_low[keep], lr_high[keep], len(keep)
    drop = lr_low[:, None] - lr_high[None, :]
    later = np.triu(np.ones((n, n), dtype=bool), k=1)
    ok = later & (drop > 0) & (drop > min_drop * lr_low[:, None])
    if not np.any(ok):
        return math.inf
    gain = np.maximum(errors[:, None] - errors[None, :], 0.0) + 2 * noise
    return float(np.min(gain[ok] / drop[ok]))


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


def still_climbing_after_drop(
    lrs: np.ndarray,
    its: np.ndarray,
    acc: np.ndarray,
    idx: np.ndarray,
    *,
    window: float = 0.1,
    rise: float = 0.04,
    min_drop: float = 0.25,
) -> np.ndarray:
    """The LR before a step drop, for each point still climbing after it (0 elsewhere).

    A point qualifies when the LR of `lrs` (per iteration, the whole budget) has stayed
    within a factor 1/(1 − `min_drop`) over a stage that began with a fall of at least that
    factor from the LR just before (a step: a continuous decay never falls that much in
    one iteration), and the accuracy has not yet flattened since: over the points of the
    stage in the last `window` of the budget (at least the stage's last three), the fitted
    slope × that window is above `rise`. `its`/`acc` are the raw points in time order,
    `idx` their schedule indices. Each point is judged on the points up to it only.
    """
    budget = len(lrs) - 1
    w = max(1, int(window * budget))
    band = 1.0 / (1.0 - min_drop)
    # Step drops: the first iterations of a lower LR, at least a factor `band` below the last.
    steps = np.nonzero(lrs[:-1] >= band * lrs[1:])[0] + 1
    out = np.zeros(len(its))
    for j in range(len(its)):
        k = int(idx[j])
        m = int(np.searchsorted(steps, k, side="right"))
        if m == 0:
            continue
        start = int(steps[m - 1])  # the stage lrs[start : k + 1] since the last step
        stage = lrs[start : k + 1]
        top = float(np.max(stage))
        if top > band * float(np.min(stage)) or lrs[start - 1] < band * top:
            continue  # the LR has moved on since the step: not a flat stage after it
        # A point at the stage's first iteration was trained at the LR before it.
        since = np.nonzero((its > start) & (its <= its[j]))[0]
        if len(since) < 3:
            continue
        recent = since[its[since] > its[j] - w]
        sel = recent if len(recent) >= 3 else since[-3:]
        if _slope(its[sel].astype(float), acc[sel]) * w > rise:
            out[j] = float(lrs[start - 1])
    return out


@dataclass
class _Fit:
    """What the forecast needs from the curve so far, before any slope safety factor."""

    e_now: float
    alpha_fit: float  # fitted log-log slope of the running best error, ≥ 0
    ratio: float  # LR area at the end ÷ area so far (both counted from take-off)
    anneal_cap: float  # B·drop (the largest annealing gain), inf when B is unbounded
    b: float
    details: dict[str, Any]

    def progress_error(self, slope_safety: float, slope_floor: float) -> float:
        alpha = self.alpha_fit * slope_safety + slope_floor
        return self.e_now * self.ratio ** (-alpha)

    def upper(self, slope_safety: float, slope_floor: float) -> tuple[float, float, float]:
        """(upper bound on accuracy, progress error, annealing gain) for a slope factor."""
        pe = self.progress_error(slope_safety, slope_floor)
        gain = min(self.anneal_cap, pe) if self.anneal_cap > 0 else 0.0
        return 1.0 - max(pe - gain, 0.0), pe, gain

    def slope_safety_needed(self, level: float, slope_floor: float) -> float:
        """The smallest slope factor whose bound reaches `level` (0 if any; inf if none)."""
        if self.upper(0.0, slope_floor)[0] >= level:
            return 0.0
        # upper ≥ level ⇔ e_now·ratio^(−α) ≤ 1 − level + B·drop (the gain caps at pe).
        allowed = 1.0 - level + (self.anneal_cap if self.anneal_cap > 0 else 0.0)
        if allowed <= 0 or self.ratio <= 1.0 or self.alpha_fit <= 0:
            return math.inf
        alpha = math.log(self.e_now / allowed) / math.log(self.ratio)
        return max((alpha - slope_floor) / self.alpha_fit, 0.0)


def _fit(
    context: VerifyContext,
    *,
    b_safety: float = 2.0,
    window: float = 0.5,
    prior_b: float = math.inf,
    floor_acc: float = 0.0,
    shift: bool = True,
    anneal_from_best: bool = True,
    anneal_noise: float | None = 0.02,
    anneal_min_drop: float = 0.25,
    anneal_lag: float | None = None,
    anneal_respond: bool = True,
) -> _Fit | None:
    """The curve's part of the forecast (see `predict`), or None with too few points."""
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
    its, err, area, idx, acc = its[keep], err[keep], area[keep], idx[keep], acc[keep]
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
    alpha_fit = max(alpha_recent, alpha_all, 0.0)
    ratio = area_end_eff / float(area[-1])

    learned = err <= 1.0 - floor_acc
    hi = trailing_max(sch, anneal_lag or 0.1)[idx]
    # The LR whose noise floor the error may still sit on: after a drop the error takes a
    # while to come down, so with `anneal_lag` the highest LR of that recent past.
    eff = sch.smooth[idx] if anneal_lag is None else np.maximum(sch.smooth[idx], hi)
    if anneal_respond:
        # After a step drop the error keeps coming down for as long as the curve climbs;
        # until it flattens (to within the noise on two points), the error may still sit
        # on the floor of the LR before the step.
        pre = still_climbing_after_drop(
            sch.lrs,
            its,
            acc,
            idx,
            rise=2 * (anneal_noise if anneal_noise is not None else 0.02),
            min_drop=anneal_min_drop,
        )
        hi, eff = np.maximum(hi, pre), np.maximum(eff, pre)
    own_b = noise_bound(err[learned], sch.trailing_min[idx[learned]])
    if anneal_noise is not None:
        # `learned` is a suffix (the running best only rises): the points after take-off.
        seen = anneal_bound(
            1.0 - acc[learned],
            sch.trailing_min[idx[learned]],
            hi[learned],
            noise=anneal_noise,
            min_drop=anneal_min_drop,
        )
        own_b = min(own_b, seen)
    b = min(own_b, prior_b) * b_safety
    now_lr = float(eff[-1])
    lowest_ahead = float(np.min(sch.smooth[idx[-1] :]))
    ref_lr = now_lr
    if anneal_from_best:
        # The best error so far already sits on the noise floor of the LR it was reached at:
        # annealing can only remove the floor between *that* LR and the lowest ahead.
        ref_lr = min(float(np.max(eff[acc >= float(np.max(acc))])), now_lr)
    drop = max(ref_lr - lowest_ahead, 0.0)
    # No usable bound on B (no LR seen yet above 0) leaves any drop worth the whole error.
    if drop <= 0:
        cap = 0.0
    elif math.isfinite(b):
        cap = b * drop
    else:
        cap = math.inf
    return _Fit(
        e_now=e_now,
        alpha_fit=float(alpha_fit),
        ratio=float(ratio),
        anneal_cap=float(cap),
        b=float(b),
        details={
            "alpha_recent": float(alpha_recent),
            "alpha_all": float(alpha_all),
            "area_now": float(area[-1]),
            "area_end": area_end_eff,
            "area_ratio": float(ratio),
            "lr_now": now_lr,
            "lr_anneal_from": ref_lr,
            "lr_lowest_ahead": lowest_ahead,
            "points": len(err),
        },
    )


def predict(
    context: VerifyContext,
    *,
    slope_safety: float = 2.5,
    slope_floor: float = 0.02,
    **fit_options: Any,
) -> Prediction | None:
    """Optimistic best accuracy by the end of the budget, or None with too few points.

    `fit_options` are `_fit`'s (b_safety, window, prior_b, floor_acc, shift and the
    anneal_* bounds), with its defaults.
    """
    fit = _fit(context, **fit_options)
    if fit is None:
        return None
    upper, pe, gain = fit.upper(slope_safety, slope_floor)
    return Prediction(
        upper=float(upper),
        now=1.0 - fit.e_now,
        progress_error=float(pe),
        anneal_gain=float(gain),
        alpha=float(fit.alpha_fit * slope_safety + slope_floor),
        noise_b=float(fit.b),
        details={**fit.details, "slope_safety": float(slope_safety)},
    )


_FIT_CACHE: dict[tuple, list[tuple[int, float, _Fit | None]]] = {}


def _curve_fits(
    curve: dict[str, Any], metric: str, floor_acc: float, prior_b: float, gates: tuple
) -> list[tuple[int, float, _Fit | None]]:
    """(iteration, accuracy, fit) at every point of a stored curve where the rule could act.

    `gates` = (grace, min_points, max_area_ratio), the rule's own. Cached: a store's curves
    are read by every later verification of the task.
    """
    pol = from_spec(curve["policy"])
    hist = [p for p in curve["history"] if isinstance(p.get("iteration"), int | float)]
    budget = int(curve.get("budget") or max(p["iteration"] for p in hist))
    key = (
        json.dumps(curve["policy"], sort_keys=True, default=str),
        budget,
        tuple((int(p["iteration"]), repr(p.get(metric))) for p in hist),
        metric,
        floor_acc,
        prior_b,
        gates,
    )
    if key in _FIT_CACHE:
        return _FIT_CACHE[key]
    grace, min_points, max_ratio = gates
    sch = Schedule.of(pol, budget)
    out: list[tuple[int, float, _Fit | None]] = []
    for i, p in enumerate(hist):
        v = p.get(metric)
        acc = float(v) if isinstance(v, int | float) and math.isfinite(v) else math.nan
        t = int(p["iteration"])
        if t < grace * budget or t >= budget:
            out.append((t, acc, None))
            continue
        ctx = VerifyContext.build(hist[: i + 1], pol, budget, metric=metric)
        ctx.__dict__["schedule"] = sch  # the cached_property, shared by every prefix
        fit = None
        if len(ctx.series(metric)[1]) >= min_points:
            fit = _fit(ctx, prior_b=prior_b, floor_acc=floor_acc)
            if fit is not None and (1.0 - fit.e_now < floor_acc or fit.ratio > max_ratio):
                fit = None
        out.append((t, acc, fit))
    if len(_FIT_CACHE) > 4096:
        _FIT_CACHE.clear()
    _FIT_CACHE[key] = out
    return out


def prior_slope_safety(
    curves: list[dict[str, Any]] | None,
    target: float,
    *,
    margin: float,
    slope_floor: float,
    floor_acc: float,
    prior_b: float = math.inf,
    gates: tuple = (0.2, 5, 3.0),
    metric: str = "val_top1",
) -> tuple[float, int]:
    """The slope factor earlier curves of the task needed to never be rejected too early.

    For every stored curve that reached `target` (diverged ones aside), at every point before
    it did where the rule could act: the smallest slope safety factor whose forecast stays at
    or above target − `margin`. Returns (the largest of these, how many curves reached the
    target). A curve stopped early (by a rule, or at a lower target) teaches only what it
    showed before it stopped.
    """
    need, n = 0.0, 0
    for curve in curves or []:
        if curve.get("status") == "diverged":
            continue
        try:
            fits = _curve_fits(curve, metric, floor_acc, prior_b, gates)
        except (KeyError, TypeError, ValueError):
            continue  # a malformed stored curve teaches nothing; never block verification
        reached = next((k for k, (_, a, _) in enumerate(fits) if a >= target), None)
        if reached is None:
            continue
        n += 1
        for _, _, fit in fits[:reached]:
            if fit is not None:
                need = max(need, fit.slope_safety_needed(target - margin, slope_floor))
    return need, n


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

    After an LR rise the slope grows fastest (a rising-LR SIG curve took off at 0.58 and
    met 0.80 where the plain factor said it could not), so the slope factor is further
    multiplied by (LR now ÷ lowest LR over the last `rise_window` of the budget) **
    `rise_power`, that ratio capped at `rise_cap` (defaults 0.2, 0.5, 2: at most ×1.41).
    `anneal_from_best` and `anneal_noise` are the two extra bounds on the annealing gain
    (module docstring; `anneal_noise=None` turns the second off). `anneal_lag` (off): the
    error may still sit on the floor of the highest LR of the last `anneal_lag` of the
    budget, so a drop's gain stays available that long (and seen annealing is judged that
    long after it). 0.15 removed the one false rejection left on our held-out sets (an
    NSTEP curve still climbing 200–300 iterations after its step) but cost 5–8 points of
    saving everywhere, so it is not the default (benchmarks/README.md). `anneal_respond`
    (on) is the targeted version: only after a step drop (the LR fell by at least
    a quarter in one iteration and has stayed within a factor 4/3 since),
    and only while the curve has not flattened since the step (`still_climbing_after_drop`),
    the error may still sit on the floor of the LR before the step.

    `learn_slope` (off by default; an ablation that failed, see benchmarks/README.md):
    with the store, when at least `learn_min_curves` earlier curves of the task reached
    the target, the slope factor is instead the one those curves needed (see
    `prior_slope_safety`) × `learn_safety`, at least `learn_min`.
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
        rise_window: float = 0.2,
        rise_power: float = 0.5,
        rise_cap: float = 2.0,
        anneal_from_best: bool = True,
        anneal_noise: float | None = 0.02,
        anneal_lag: float | None = None,
        learn_slope: bool = False,
        learn_safety: float = 1.5,
        learn_min: float = 0.5,
        learn_min_curves: int = 3,
        anneal_respond: bool = True,
    ):
        self.anneal_respond = anneal_respond
        self.rise_window, self.rise_power, self.rise_cap = rise_window, rise_power, rise_cap
        self.anneal_from_best, self.anneal_noise = anneal_from_best, anneal_noise
        self.anneal_lag = anneal_lag
        self.grace, self.min_points, self.margin, self.takeoff = grace, min_points, margin, takeoff
        self.slope_safety, self.slope_floor, self.b_safety = slope_safety, slope_floor, b_safety
        self.max_area_ratio, self.use_store = max_area_ratio, use_store
        self.prior_safety, self.shift = prior_safety, shift
        self.learn_slope, self.learn_safety = learn_slope, learn_safety
        self.learn_min, self.learn_min_curves = learn_min, learn_min_curves
        # (source, task, curves, prior B) and {target: slope factor}: read once per run.
        self._prior_cache: tuple[Any, str, list[dict[str, Any]] | None, float] | None = None
        self._slope_cache: dict[float, tuple[float, float, int]] = {}

    def _prior(self, context: VerifyContext) -> tuple[list[dict[str, Any]] | None, float]:
        """The task's earlier curves and the noise bound they give (inf without a store)."""
        if not self.use_store:
            return None, math.inf
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
            self._prior_cache = cached = (source, task, curves, bound)
            self._slope_cache = {}
        return cached[2], cached[3]

    def _prior_b(self, context: VerifyContext) -> float:
        return self._prior(context)[1]

    def _slope_factor(self, context: VerifyContext) -> tuple[float, dict[str, Any]]:
        """The slope safety factor for this run: learned from the store, else the default."""
        curves, prior_b = self._prior(context)
        target = float(context.target)  # type: ignore[arg-type]
        if not (self.learn_slope and curves):
            return self.slope_safety, {}
        if target not in self._slope_cache:
            needed, n = prior_slope_safety(
                curves,
                target,
                margin=self.margin,
                slope_floor=self.slope_floor,
                floor_acc=context.chance_level() + self.takeoff,
                prior_b=prior_b,
                gates=(self.grace, self.min_points, self.max_area_ratio),
                metric=context.metric,
            )
            factor = max(needed * self.learn_safety, self.learn_min)
            self._slope_cache[target] = (factor, needed, n)
        factor, needed, n = self._slope_cache[target]
        if n < self.learn_min_curves:
            return self.slope_safety, {"store_curves_at_target": n}
        return factor, {"store_slope_needed": needed, "store_curves_at_target": n}

    def _rise(self, context: VerifyContext) -> float:
        """LR now ÷ the lowest LR of the recent past (momentum-smoothed), in [1, rise_cap]."""
        sch = context.schedule
        i = sch.at(context.iteration)
        w = max(1, int(self.rise_window * context.budget))
        past = float(np.min(sch.smooth[max(0, i - w) : i + 1]))
        now = float(sch.smooth[i])
        if past <= 0:
            return self.rise_cap if now > 0 else 1.0
        return min(max(1.0, now / past), self.rise_cap)

    def should_stop(self, context: VerifyContext) -> Decision | None:
        """Reject when the optimistic forecast of the best accuracy misses the target."""
        if context.target is None or context.fraction < self.grace:
            return None
        if len(context.series(context.metric)[1]) < self.min_points:
            return None
        slope_safety, learned = self._slope_factor(context)
        rise = self._rise(context)
        slope_safety *= rise**self.rise_power
        pred = predict(
            context,
            slope_safety=slope_safety,
            slope_floor=self.slope_floor,
            b_safety=self.b_safety,
            prior_b=self._prior_b(context),
            floor_acc=context.chance_level() + self.takeoff,
            shift=self.shift,
            anneal_from_best=self.anneal_from_best,
            anneal_noise=self.anneal_noise,
            anneal_lag=self.anneal_lag,
            anneal_respond=self.anneal_respond,
        )
        if pred is None or pred.now < context.chance_level() + self.takeoff:
            return None
        if pred.details["area_ratio"] > self.max_area_ratio:
            return None  # too far to extrapolate: most of the LR area is still to come
        if pred.upper >= context.target - self.margin:
            return None
        pred.details.update(learned, lr_rise=rise)
        return Decision(
            self.name,
            context.iteration,
            f"optimistic forecast {pred.upper:.3f} < target {context.target:.3f} − "
            f"margin {self.margin:g} (progress to error {pred.progress_error:.3f}, "
            f"annealing gain ≤ {pred.anneal_gain:.3f})",
            evidence=pred.to_dict(),
            predicted_final=pred.upper,
        )
