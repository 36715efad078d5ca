"""The unreachable-target forecast's extra bounds (issue 5): exact values and decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.verify.synthetic import curve
from workbench.policies import from_spec
from workbench.verify import Schedule, UnreachableTarget, VerifyContext, predict
from workbench.verify.predictor import (
    _fit,
    anneal_bound,
    prior_slope_safety,
    still_climbing_after_drop,
)

BUDGET = 1000
ITS = list(range(0, 1001, 50))


def ctx(spec, its, accs, target=0.9, **kw):
    return VerifyContext.build(curve(its, accs), spec, BUDGET, target=target, chance=0.1, **kw)


# --- the bound on B from annealing already seen ------------------------------------------


def test_anneal_bound_exact_value():
    # LR fell from 0.1 to 0.02 between the first two points; the error fell by 0.05.
    err = np.array([0.30, 0.25, 0.24])
    low = np.array([0.1, 0.02, 0.02])
    high = np.array([0.1, 0.02, 0.02])
    # Pairs (0,1) and (0,2) qualify (drop 0.08 > 25% of 0.1); (1,2) has no drop.
    expect = min((0.05 + 0.04) / 0.08, (0.06 + 0.04) / 0.08)
    assert anneal_bound(err, low, high, noise=0.02) == pytest.approx(expect)


def test_anneal_bound_needs_a_real_lr_drop():
    err = np.array([0.30, 0.25])
    assert anneal_bound(err, np.array([0.1, 0.2]), np.array([0.1, 0.2])) == math.inf  # a rise
    # A 10% drop is below min_drop (25%): too small to tell the floor from the noise.
    assert anneal_bound(err, np.array([0.1, 0.09]), np.array([0.1, 0.09])) == math.inf
    # The later point's recent past still holds the high LR: the error may lag, no bound.
    assert anneal_bound(err, np.array([0.1, 0.02]), np.array([0.1, 0.1])) == math.inf


# An LR halving already behind (0.02 → 0.01 at 300) and a second one ahead (→ 0.005 at
# 800). The first lifted the curve only from 0.60 to 0.63: the floor B·η is small, so the
# second cannot lift it much either.
STEPS = {"function": "NSTEP", "k0": 0.02, "gamma": 0.5, "l": [300, 800]}
STEPS_ACC = [0.1, 0.45, 0.55, 0.58, 0.60, 0.60, 0.60, 0.61, 0.62, 0.63, 0.63, 0.64]


def test_seen_annealing_tightens_the_gain_ahead():
    c = ctx(STEPS, ITS[:12], STEPS_ACC[:12])
    loose = predict(c, floor_acc=0.15, anneal_noise=None)
    tight = predict(c, floor_acc=0.15)
    assert tight.noise_b < loose.noise_b
    assert tight.anneal_gain < loose.anneal_gain
    assert tight.upper < loose.upper


def test_seen_annealing_lets_the_rule_reject_a_plateau_after_a_useless_step():
    c = ctx(STEPS, ITS[:12], STEPS_ACC[:12], target=0.85)
    d = UnreachableTarget().should_stop(c)
    assert d is not None and d.rule == "unreachable_target" and d.iteration == 550
    assert d.predicted_final == pytest.approx(0.782, abs=1e-3)
    assert d.evidence["noise_b"] == pytest.approx(12.0)  # 2 × (0.40 − 0.37 + 0.04) / 0.01
    # Without the bound, the step ahead may still be worth the whole error: no decision.
    assert UnreachableTarget(anneal_noise=None).should_stop(c) is None


# --- annealing counted from the LR the best accuracy was reached at -----------------------

# Two phases: LR 0.01 to 500 (best 0.70 reached there), then up to 0.05 (the curve drops
# back while its floor rises), then annealed to 0.001 at 900.
RISE_THEN_ANNEAL = {
    "stages": [
        {"policy": {"function": "FIX", "k0": 0.01}, "until": 500},
        {"policy": {"function": "FIX", "k0": 0.05}, "until": 900},
        {"policy": {"function": "FIX", "k0": 0.001}},
    ]
}
RTA_ACC = [0.1, 0.40, 0.50, 0.56, 0.60, 0.63, 0.66, 0.68, 0.69, 0.70, 0.70, 0.62, 0.63, 0.64]


def test_anneal_gain_counted_from_the_lr_at_the_best_point():
    c = ctx(RISE_THEN_ANNEAL, ITS[:14], RTA_ACC)
    sch = c.schedule
    fit = _fit(c, floor_acc=0.15, anneal_noise=None)
    # The best (0.70, first reached at 450, again at 500) sat on the LR of iteration 500.
    assert fit.details["lr_anneal_from"] == pytest.approx(float(sch.smooth[500]))
    assert fit.details["lr_anneal_from"] < fit.details["lr_now"]
    now = _fit(c, floor_acc=0.15, anneal_noise=None, anneal_from_best=False)
    assert now.details["lr_anneal_from"] == pytest.approx(now.details["lr_now"])
    assert fit.anneal_cap < now.anneal_cap


# --- slope factor after an LR rise ---------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expect"),
    [
        (300, 1.0),  # flat LR so far
        (600, 2.0),  # 5× rise 100 iterations ago: capped at 2
        (1000, 1.0),  # the rise left the 20% window long ago
    ],
)
def test_rise_factor_exact(at, expect):
    spec = {
        "stages": [
            {"policy": {"function": "FIX", "k0": 0.01}, "until": 500},
            {"policy": {"function": "FIX", "k0": 0.05}},
        ]
    }
    c = VerifyContext.build([{"iteration": at}], spec, BUDGET)
    assert UnreachableTarget()._rise(c) == pytest.approx(expect, rel=1e-3)


def test_rising_lr_run_taking_off_late_is_not_rejected():
    # The held-out momentum SIG run (benchmarks/verify_calibration.py --budget 1000) up to
    # 700: the LR rises to b over the budget, the curve creeps up, then takes off (0.575
    # at 700, 0.83 at 900). Without the rise factor the forecast at 700 says it cannot
    # reach 0.8.
    spec = {"function": "SIG", "k0": 0.05, "gamma": 0.01, "l": 500}
    accs = [0.105, 0.11, 0.122, 0.12, 0.128, 0.128, 0.13, 0.23, 0.31, 0.333, 0.445, 0.48]
    accs += [0.547, 0.47, 0.575]
    c = ctx(spec, ITS[:15], accs, target=0.8)
    assert UnreachableTarget(rise_power=0.0).should_stop(c) is not None
    assert UnreachableTarget().should_stop(c) is None
    assert UnreachableTarget()._rise(c) > 1.2


# --- the store-learned slope factor (an ablation, off by default) -------------------------


def test_slope_safety_needed_is_the_inverse_of_the_bound():
    c = ctx(
        {"function": "FIX", "k0": 0.01}, ITS[:9], [0.1, 0.3, 0.4, 0.45, 0.5, 0.52, 0.55, 0.56, 0.57]
    )
    fit = _fit(c, floor_acc=0.15)
    s = fit.slope_safety_needed(0.8, 0.02)
    assert 0 < s < math.inf
    assert fit.upper(s, 0.02)[0] == pytest.approx(0.8)
    assert fit.slope_safety_needed(fit.upper(0.0, 0.02)[0] - 0.01, 0.02) == 0.0


def test_prior_slope_safety_counts_only_curves_that_reached_the_target():
    fix = {"function": "FIX", "k0": 0.01}
    slow = {"policy": fix, "budget": BUDGET, "history": curve(ITS, [0.1] + [0.5] * 20)}
    late = {
        "policy": fix,
        "budget": BUDGET,
        "history": curve(ITS, [0.1, 0.3, 0.4, 0.45, 0.5, 0.52, 0.55] + [0.56] * 12 + [0.9, 0.9]),
    }
    kw = {"margin": 0.02, "slope_floor": 0.02, "floor_acc": 0.15}
    assert prior_slope_safety([slow], 0.85, **kw) == (0.0, 0)
    needed, n = prior_slope_safety([slow, late], 0.85, **kw)
    assert n == 1 and needed > 2.5  # a jump at the end needs a steep slope
    assert UnreachableTarget().learn_slope is False


def test_anneal_lag_keeps_a_recent_drop_worth_its_gain():
    # A ÷10 step at 500; at 600 the smoothed LR has all but reached the new LR, yet the
    # error may still be coming down: with a lag of 15% of the budget (150 iterations) the
    # forecast still credits the floor of the LR before the step.
    spec = {"function": "NSTEP", "k0": 0.2, "gamma": 0.1, "l": [500, 900]}
    accs = [0.1, 0.4, 0.5, 0.55, 0.58, 0.6, 0.6, 0.61, 0.6, 0.6, 0.6, 0.66, 0.68]
    c = ctx(spec, ITS[:13], accs, target=0.8)
    plain = _fit(c, floor_acc=0.15)
    lagged = _fit(c, floor_acc=0.15, anneal_lag=0.15)
    assert plain.details["lr_now"] == pytest.approx(float(c.schedule.smooth[600]))
    assert plain.details["lr_now"] < 0.03
    assert lagged.details["lr_now"] == pytest.approx(0.2)
    assert lagged.anneal_cap > plain.anneal_cap
    assert UnreachableTarget(anneal_lag=0.15).should_stop(c) is None


def test_anneal_bound_on_a_long_curve_uses_a_subset_and_stays_safe():
    rng = np.random.default_rng(0)
    n = 2000  # a point every iteration: pairs are subsampled, never n² of them
    lrs = np.linspace(0.1, 0.001, n)
    err = 0.5 - 0.3 * np.linspace(0, 1, n) + rng.normal(0, 0.01, n)
    full = anneal_bound(err, lrs, lrs, max_points=n)
    sub = anneal_bound(err, lrs, lrs)
    assert math.isfinite(sub) and sub >= full


# --- a step's gain stays available while the curve still climbs after it ------------------

# Shaped after the held-out momentum NSTEP run (budget 2,000): a noisy 0.5–0.71 hover at
# LR 0.2, a ÷10 step at 1,000, then a climb that lasts ~300 iterations (it would meet 0.8
# later) or, in the second curve, a plateau right after the step's jump.
STEP_B = 2000
STEP_ITS = list(range(0, STEP_B + 1, 50))
STEP_SPEC = {"function": "NSTEP", "k0": 0.2, "gamma": 0.1, "l": [1000, 1500]}
STEP_PRE = [0.1, 0.4, 0.45, 0.5, 0.58, 0.65, 0.69, 0.71, 0.66, 0.6, 0.67, 0.64, 0.63, 0.6]
STEP_PRE += [0.5, 0.62, 0.56, 0.63, 0.58, 0.6, 0.59]  # … to 1,000
STEP_CLIMB = STEP_PRE + [0.68, 0.70, 0.69, 0.725, 0.745, 0.775, 0.785, 0.79]
STEP_FLAT = STEP_PRE + [0.68, 0.69, 0.68, 0.69, 0.685, 0.69, 0.68, 0.69]


def _first_stop(accs, **kw):
    for n in range(len(STEP_PRE), len(accs) + 1):
        c = VerifyContext.build(
            curve(STEP_ITS[:n], accs[:n]), STEP_SPEC, STEP_B, target=0.8, chance=0.1
        )
        d = UnreachableTarget(**kw).should_stop(c)
        if d is not None:
            return d
    return None


def _climbing(spec, accs):
    sch = Schedule.of(from_spec(spec), STEP_B)
    its = np.array(STEP_ITS[1 : len(accs)])
    return still_climbing_after_drop(sch.lrs, its, np.array(accs[1:]), its)


def test_still_climbing_after_drop_exact():
    pre = _climbing(STEP_SPEC, STEP_CLIMB)
    its = STEP_ITS[1 : len(STEP_CLIMB)]
    # From 1,200 (three points after the step, fitted rise 0.05 per 10% of the budget > 2 ×
    # 0.02 of noise) the points keep the LR before the step; none before the step, and not
    # 1,050–1,150 (fewer than three points, then a rise of 0.02 over them).
    assert {t: float(v) for t, v in zip(its, pre, strict=True) if v > 0} == {
        t: pytest.approx(0.2) for t in range(1200, 1401, 50)
    }
    assert not _climbing(STEP_SPEC, STEP_FLAT).any()  # flat after the step's jump
    # A continuous tenfold decay, or a step *up*, never counts, however the curve climbs.
    assert not _climbing(
        {"function": "EXP", "k0": 0.2, "gamma": 0.1 ** (1 / 1000)}, STEP_CLIMB
    ).any()
    assert not _climbing(
        {"function": "NSTEP", "k0": 0.02, "gamma": 10.0, "l": [1000]}, STEP_CLIMB
    ).any()


def test_curve_still_climbing_after_its_step_is_not_rejected():
    # Without the response test the step's gain counts as spent 200 iterations after it
    # (the 10% lag) and the forecast at 1,200 (0.725 now) says 0.743 < 0.78.
    d = _first_stop(STEP_CLIMB, anneal_respond=False)
    assert d is not None and d.iteration == 1200
    assert d.predicted_final == pytest.approx(0.7427, abs=1e-3)
    assert _first_stop(STEP_CLIMB) is None


def test_plateau_after_a_step_is_still_rejected():
    # The step's jump is over by 1,050: the curve is flat to within noise, so its gain is
    # spent and the rule stops the run where it did before.
    for respond in (True, False):
        d = _first_stop(STEP_FLAT, anneal_respond=respond)
        assert d is not None and d.rule == "unreachable_target" and d.iteration == 1200
        assert d.predicted_final == pytest.approx(0.7247, abs=1e-3)
