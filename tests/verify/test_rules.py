"""Stop rules, the predictor and the report/ask API on synthetic histories."""

from __future__ import annotations

import math

import pytest

from tests.verify.synthetic import curve, toy_history
from workbench.verify import (
    Divergence,
    Monitor,
    NeverStop,
    Plateau,
    StuckAtChance,
    UnreachableTarget,
    VerifyContext,
    default_rules,
    predict,
)

BUDGET, EVERY = 1000, 25


def replay(spec, history, target=0.9, rules=None, shadow=True, **kw):
    """Feed `history` point by point; the monitor with its decisions."""
    m = Monitor(spec, BUDGET, target, rules, shadow=shadow, chance=0.1, **kw)
    for p in history:
        m.report_point(p)
        if m.should_stop():
            break
    return m


def first(m, rule):
    return next((d for d in m.decisions if d.rule == rule), None)


def test_divergence_on_non_finite_loss():
    h = curve([0, 25], [0.1, 0.1])
    h[1]["train_loss"] = math.nan
    d = Divergence().should_stop(VerifyContext.build(h, {"function": "FIX", "k0": 5.0}, BUDGET))
    assert d is not None and d.kind == "diverged" and d.iteration == 25


def test_divergence_on_exploding_loss_needs_patience():
    h = curve([0, 25, 50], [0.1, 0.1, 0.1])
    h[1]["train_loss"] = h[2]["train_loss"] = 50.0
    ctx = VerifyContext.build(h[:2], {"function": "FIX", "k0": 5.0}, BUDGET)
    assert Divergence().should_stop(ctx) is None  # one bad point may be a spike
    ctx = VerifyContext.build(h, {"function": "FIX", "k0": 5.0}, BUDGET)
    assert Divergence().should_stop(ctx).kind == "diverged"


def test_untrained_point_with_nan_train_loss_is_not_divergence():
    h = curve([0], [0.1])
    assert math.isnan(h[0]["train_loss"])
    ctx = VerifyContext.build(h, {"function": "FIX", "k0": 0.1}, BUDGET)
    assert Divergence().should_stop(ctx) is None


def test_tiny_lr_is_stuck_at_chance_early():
    spec = {"function": "FIX", "k0": 1e-6}
    m = replay(spec, toy_history(spec, BUDGET, EVERY), shadow=False)
    assert m.decision is not None and m.decision.rule == "stuck_at_chance"
    assert m.decision.iteration <= 0.2 * BUDGET


def test_slow_start_with_warmup_ahead_is_not_stuck():
    # At chance with a tiny LR now, but the LR rises 1000-fold later: area ahead is huge.
    spec = {"function": "LINEAR", "k0": 1e-6, "k1": 0.05, "l": BUDGET}
    h = curve([0, 25, 50, 75, 100, 125], [0.1] * 6)
    for i, p in enumerate(h):
        p["val_loss"] = 2.3 - 0.001 * i
    ctx = VerifyContext.build(h, spec, BUDGET, chance=0.1, target=0.9)
    assert StuckAtChance().should_stop(ctx) is None


def test_mediocre_fixed_lr_is_rejected():
    spec = {"function": "FIX", "k0": 0.3}
    m = replay(spec, toy_history(spec, BUDGET, EVERY), shadow=False)
    assert m.decision is not None and m.decision.kind == "reject"
    assert m.decision.iteration <= 0.5 * BUDGET
    assert m.decision.predicted_final < 0.9


def test_good_policy_is_never_rejected():
    for spec in (
        {"function": "FIX", "k0": 0.02},
        {"function": "COS", "k0": 0.0, "k1": 0.3, "l": BUDGET},
        {"function": "TRI", "k0": 0.001, "k1": 0.05, "l": 100},
    ):
        m = replay(spec, toy_history(spec, BUDGET, EVERY))
        assert m.decisions == [], (spec, m.decisions)


def test_plateau_before_a_step_is_not_rejected():
    # Plateaus at ~0.4 (LR 0.3) until the step at 600, then reaches ~0.99.
    spec = {"function": "NSTEP", "k0": 0.3, "gamma": 0.1, "l": [600, 800]}
    h = toy_history(spec, BUDGET, EVERY)
    before = [p["val_top1"] for p in h if 300 <= p["iteration"] < 600]
    assert max(before) - min(before) < 0.01 and max(before) < 0.5
    assert h[-1]["val_top1"] > 0.9
    m = replay(spec, h)
    assert m.decisions == []


def test_schedule_unaware_view_would_reject_the_same_plateau():
    # The same points under a constant LR: the rules reject, so awareness is what saves it.
    spec = {"function": "NSTEP", "k0": 0.3, "gamma": 0.1, "l": [600, 800]}
    h = [p for p in toy_history(spec, BUDGET, EVERY) if p["iteration"] < 600]
    m = replay({"function": "FIX", "k0": 0.3}, h)
    assert {d.rule for d in m.decisions} & {"plateau", "unreachable_target"}


def test_decay_that_starves_the_run_is_rejected():
    spec = {"function": "EXP", "k0": 0.005, "gamma": 0.98}
    h = toy_history(spec, BUDGET, EVERY)
    assert max(p["val_top1"] for p in h) < 0.85
    m = replay(spec, h, shadow=False)
    assert m.decision is not None and m.decision.rule == "unreachable_target"
    assert m.decision.iteration <= 0.5 * BUDGET


def test_predictor_counts_the_area_still_to_come():
    h = curve([0, 100, 200, 300, 400], [0.1, 0.3, 0.4, 0.47, 0.52])
    fixed = VerifyContext.build(h, {"function": "FIX", "k0": 0.01}, BUDGET, target=0.9)
    rising = VerifyContext.build(
        h,
        {
            "stages": [
                {"policy": {"function": "FIX", "k0": 0.01}, "until": 400},
                {"policy": {"function": "FIX", "k0": 0.1}},
            ]
        },
        BUDGET,
        target=0.9,
    )
    assert predict(rising).upper > predict(fixed).upper


def test_predictor_anneal_gain_bounded_by_the_curve():
    # A drop from a plateau at LR 0.3 may lift the whole error; after the drop it cannot.
    spec = {"function": "NSTEP", "k0": 0.3, "gamma": 0.1, "l": [600, 800]}
    h = [p for p in toy_history(spec, BUDGET, EVERY) if p["iteration"] <= 500]
    pred = predict(VerifyContext.build(h, spec, BUDGET, target=0.9))
    assert pred.upper > 0.95 and pred.anneal_gain > 0


def test_store_prior_tightens_the_noise_bound():
    # A tiny-LR cosine creeping up: alone, the anneal ahead could be worth everything; a
    # stored curve of the task at a large LR bounds the noise floor and lets the rule act.
    # (The bound from annealing already seen is off here: it isolates the store's part.)
    spec = {"function": "COS", "k0": 0.0, "k1": 2e-4, "l": BUDGET}
    h = curve(
        list(range(0, 501, 50)), [0.1, 0.2, 0.25, 0.28, 0.3, 0.31, 0.32, 0.33, 0.335, 0.34, 0.345]
    )
    alone = UnreachableTarget(anneal_noise=None).should_stop(
        VerifyContext.build(h, spec, BUDGET, target=0.9, chance=0.1)
    )
    good = toy_history({"function": "FIX", "k0": 0.02}, BUDGET, EVERY)
    prior = [{"policy": {"function": "FIX", "k0": 0.02}, "budget": BUDGET, "history": good}]
    informed = UnreachableTarget(anneal_noise=None).should_stop(
        VerifyContext.build(h, spec, BUDGET, target=0.9, chance=0.1, prior_curves=prior)
    )
    assert alone is None
    assert informed is not None and informed.predicted_final < 0.9
    # By 500 the cosine has halved its LR for a gain of a few points: that seen annealing
    # bounds the floor as well, so the default rule acts without the store too.
    seen = UnreachableTarget().should_stop(
        VerifyContext.build(h, spec, BUDGET, target=0.9, chance=0.1)
    )
    assert seen is not None and seen.iteration == 500 and seen.predicted_final < 0.88


def test_plateau_rule_respects_grace_and_margin():
    its = list(range(0, 501, 25))
    flat = curve(its, [0.1] + [0.6] * (len(its) - 1))
    ctx = VerifyContext.build(flat, {"function": "FIX", "k0": 0.1}, BUDGET, target=0.9)
    assert Plateau().should_stop(ctx) is not None
    ctx = VerifyContext.build(flat[:10], {"function": "FIX", "k0": 0.1}, BUDGET, target=0.9)
    assert Plateau().should_stop(ctx) is None  # inside the grace period
    ctx = VerifyContext.build(flat, {"function": "FIX", "k0": 0.1}, BUDGET, target=0.62)
    assert Plateau().should_stop(ctx) is None  # within the margin of the target


def test_never_stop_and_default_rules():
    spec = {"function": "FIX", "k0": 1e-6}
    m = replay(spec, toy_history(spec, BUDGET, EVERY), rules=[NeverStop()], shadow=False)
    assert m.decision is None
    names = [r.name for r in default_rules()]
    assert names == ["divergence", "stuck_at_chance", "plateau", "unreachable_target"]


def test_monitor_report_ask_api():
    m = Monitor({"function": "FIX", "k0": 1e-6}, budget=BUDGET, target=0.9, chance=0.1)
    for t in range(0, 301, 25):
        m.report(t, 0.1, val_loss=2.3, train_loss=2.3)
        if m.should_stop():
            break
    assert m.should_stop() and m.decision.rule == "stuck_at_chance"
    assert m.decision.iteration == t < BUDGET


def test_shadow_logs_every_rule_once_and_never_stops():
    spec = {"function": "FIX", "k0": 1e-6}
    m = replay(spec, toy_history(spec, BUDGET, EVERY), shadow=True)
    assert not m.should_stop()
    rules = [d.rule for d in m.decisions]
    assert "stuck_at_chance" in rules and len(rules) == len(set(rules))
    assert len(m.history) == BUDGET // EVERY + 1


def test_rules_stay_quiet_once_the_target_is_met():
    h = curve([0, 100, 200, 300, 400, 500], [0.1, 0.95, 0.95, 0.95, 0.95, 0.95])
    m = replay({"function": "FIX", "k0": 0.1}, h, target=0.9)
    assert m.decisions == []


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_accuracy_is_ignored_by_the_predictor(bad):
    h = curve([0, 100, 200, 300, 400], [0.1, 0.3, 0.4, 0.5, 0.55])
    h[2]["val_top1"] = bad
    pred = predict(VerifyContext.build(h, {"function": "FIX", "k0": 0.01}, BUDGET))
    assert pred is not None and math.isfinite(pred.upper)


def test_callback_adapts_rules_to_the_training_contract():
    from types import SimpleNamespace

    from workbench.policies import from_spec
    from workbench.train import StopRequest
    from workbench.verify import VerifierCallback

    spec = {"function": "FIX", "k0": 1e-6}
    hist = toy_history(spec, BUDGET, EVERY)
    run = SimpleNamespace(
        policy=from_spec(spec), budget=BUDGET, target=0.9, spec={"eval_every": EVERY},
        task={"dataset": "mnist1d"}, history=hist[:3],  # a restored run brings its points
    )  # fmt: skip
    cb = VerifierCallback()
    cb.on_run_start(run)
    assert cb.monitor.context.chance_level() == pytest.approx(0.1)  # from the registry
    answers = [cb.on_eval(run, p) for p in hist[2:10]]
    stop = next(a for a in answers if a is not None)
    assert isinstance(stop, StopRequest)
    assert stop.reason == "rule:stuck_at_chance" and stop.status == "stopped"
    assert len(cb.monitor.history) == len({p["iteration"] for p in cb.monitor.history})

    bad = curve([0, 25], [0.1, 0.1])
    bad[1]["train_loss"] = math.inf
    cb = VerifierCallback()
    cb.on_run_start(SimpleNamespace(**{**vars(run), "history": []}))
    assert cb.on_eval(run, bad[0]) is None
    req = cb.on_eval(run, bad[1])
    assert req.status == "diverged" and req.reason == "rule:divergence"
    shadow = VerifierCallback(shadow=True)
    shadow.on_run_start(SimpleNamespace(**{**vars(run), "history": []}))
    assert [shadow.on_eval(run, p) for p in bad] == [None, None]
    assert shadow.monitor.decisions[0].rule == "divergence"


def test_predictor_never_returns_nan_with_zero_lrs():
    # POLY ends at LR 0: the noise bound has no point with LR > 0 near the end.
    spec = {"function": "POLY", "k0": 0.0, "k1": 0.05, "p": 1.0, "l": 400}
    h = curve(list(range(0, 1001, 50)), [0.1] + [0.5 + 0.01 * i for i in range(20)])
    for n in range(5, len(h) + 1):
        pred = predict(VerifyContext.build(h[:n], spec, BUDGET, target=0.9), floor_acc=0.15)
        assert pred is not None and math.isfinite(pred.upper)
