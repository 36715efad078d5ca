"""`verify()` end to end on small offline tasks, its bad-input checks and the CLI."""

from __future__ import annotations

import json
import warnings

import pytest

from workbench.errors import BadInput
from workbench.verify import NeverStop, VerifierCallback, check_spec, verify

MOMENTUM = {"name": "momentum", "momentum": 0.9}


def spec(policy, *, budget=400, every=20, target=0.8, optimizer=None, **kw):
    """A small run on the synthetic sequence task (an MLP learns it in ~40 iterations)."""
    return {
        "dataset": "synthetic",
        "model": "mlp",
        "optimizer": optimizer or MOMENTUM,
        "policy": policy,
        "batch_size": 32,
        "budget": budget,
        "eval_every": every,
        "seed": 0,
        "target": target,
        "threads": 1,
        **kw,
    }


def test_huge_lr_diverges_within_the_first_points():
    v = verify(spec({"function": "FIX", "k0": 100.0}))
    assert v.verdict == "diverged"
    assert v.rule == "divergence"
    assert v.iteration <= 3 * 20
    assert v.compute_fraction <= 0.15


def test_tiny_lr_is_rejected_well_before_the_budget():
    v = verify(spec({"function": "FIX", "k0": 1e-6}))
    assert v.verdict == "rejected"
    assert v.rule == "stuck_at_chance"
    assert v.compute_fraction <= 0.25
    assert v.iteration == v.run["iterations"] < 400
    assert v.evidence["reason"] and v.predicted_final is not None
    assert v.run["status"] == "stopped" and v.run["stop_reason"] == "rule:stuck_at_chance"


def test_good_policy_meets_and_reports_the_iteration():
    v = verify(spec({"function": "FIX", "k0": 0.05}))
    assert v.verdict == "meets"
    hist = v.run["history"]
    first = next(p["iteration"] for p in hist if p["val_top1"] >= 0.8)
    assert v.iteration == first < 400
    assert v.compute_fraction == pytest.approx(first / 400)
    assert v.rule is None
    assert v.run["stop_reason"] == "target_reached"


def test_unreachable_target_runs_fail_or_get_rejected_never_meet():
    v = verify(spec({"function": "FIX", "k0": 0.05}, target=0.999))
    assert v.verdict in ("fails", "rejected")
    if v.verdict == "rejected":
        assert v.predicted_final < 0.999


def test_shadow_records_decisions_without_changing_the_outcome():
    tiny = {"function": "FIX", "k0": 1e-6}
    shadow = verify(spec(tiny), shadow=True)
    assert shadow.verdict == "fails"  # ran the whole budget: nothing stopped it
    assert shadow.run["iterations"] == 400 and shadow.compute_fraction == 1.0
    rules = [d["rule"] for d in shadow.decisions]
    assert "stuck_at_chance" in rules
    real = verify(spec(tiny))
    first = next(d for d in shadow.decisions if d["rule"] == real.rule)
    assert first["iteration"] == real.iteration  # the log says where it would have stopped

    good = {"function": "FIX", "k0": 0.05}
    a, b = verify(spec(good)), verify(spec(good), shadow=True)
    assert a.verdict == b.verdict == "meets" and a.iteration == b.iteration
    assert b.decisions == []


@pytest.mark.parametrize(
    "optimizer", [{"name": "adam"}, {"name": "schedulefree-adamw"}], ids=["adam", "schedulefree"]
)
def test_adaptive_and_schedule_free_optimizers_use_the_same_rules(optimizer):
    good = verify(spec({"function": "FIX", "k0": 0.003}, optimizer=optimizer))
    assert good.verdict == "meets"
    tiny = verify(spec({"function": "FIX", "k0": 1e-7}, optimizer=optimizer))
    assert tiny.verdict == "rejected"


def test_never_stop_runs_the_budget():
    v = verify(spec({"function": "FIX", "k0": 1e-6}), rules=[NeverStop()])
    assert v.verdict == "fails" and v.compute_fraction == 1.0 and v.rule is None


def test_verdict_and_decisions_are_stored_with_the_run():
    class FakeStore:
        def __init__(self):
            self.verdicts = []

        def record_verdict(self, run_id, verdict):
            self.verdicts.append((run_id, verdict))

    store = FakeStore()
    v = verify(spec({"function": "FIX", "k0": 1e-6}), store=store, callbacks=())
    ((run_id, stored),) = store.verdicts
    assert run_id == v.run_id == v.run["run_id"]
    assert stored["verdict"] == "rejected" and stored["rule"] == "stuck_at_chance"
    assert stored["decisions"][0]["rule"] == "stuck_at_chance"
    json.dumps(stored)  # JSON-able as it is


def test_user_callbacks_see_the_run_and_the_verifier_is_a_training_callback():
    seen = []

    class Spy:
        def on_eval(self, run, point):
            seen.append(point["iteration"])

    v = verify(spec({"function": "FIX", "k0": 0.05}), callbacks=[Spy()])
    assert seen[-1] == v.iteration
    cb = VerifierCallback(shadow=True)
    assert hasattr(cb, "on_run_start") and hasattr(cb, "on_eval")


# --- bad input ------------------------------------------------------------------------------


def test_target_as_percent_gets_a_suggestion():
    with pytest.raises(BadInput, match=r"0\.85"):
        check_spec(spec({"function": "FIX", "k0": 0.05}, target=85))


@pytest.mark.parametrize("target", [0, -0.5, 1.5, None, "high"])
def test_target_outside_unit_interval_is_rejected(target):
    with pytest.raises(BadInput, match="target"):
        verify(spec({"function": "FIX", "k0": 0.05}, target=target))


def test_budget_smaller_than_one_interval_is_rejected():
    with pytest.raises(BadInput, match="smaller than one evaluation interval"):
        verify(spec({"function": "FIX", "k0": 0.05}, budget=10, every=20))


def test_too_few_points_for_the_rules():
    with pytest.raises(BadInput, match="at least"):
        verify(spec({"function": "FIX", "k0": 0.05}, budget=100, every=50))
    with pytest.warns(UserWarning, match="act late"):
        check_spec(spec({"function": "FIX", "k0": 0.05}, budget=160, every=20))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_spec(spec({"function": "FIX", "k0": 0.05}, budget=100, every=50), rules=[NeverStop()])


# --- CLI ------------------------------------------------------------------------------------


def test_cli_json(tmp_path, capsys):
    from workbench.cli import main

    path = tmp_path / "run.json"
    path.write_text(json.dumps(spec({"function": "FIX", "k0": 1e-6})))
    assert main(["verify", "--spec", str(path), "--json", "--no-store"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "rejected"
    assert out["rule"] == "stuck_at_chance"
    assert 0 < out["compute_fraction"] <= 0.25
    assert isinstance(out["iteration"], int)


def test_cli_flags_override_the_spec_and_bad_target_exits_2(tmp_path, capsys):
    from workbench.cli import main

    path = tmp_path / "run.json"
    path.write_text(json.dumps(spec({"function": "FIX", "k0": 1e-6})))
    code = main(["verify", "--spec", str(path), "--policy", "FIX(k0=0.05)", "--json", "--no-store"])
    assert code == 0 and json.loads(capsys.readouterr().out)["verdict"] == "meets"
    assert main(["verify", "--spec", str(path), "--target", "85", "--no-store"]) == 2
    assert "0.85" in capsys.readouterr().err


def test_real_store_keeps_run_verdict_decisions_and_serves_curves():
    from workbench.store import open_store
    from workbench.verify.prior import curves_from_store

    store = open_store()
    v = verify(spec({"function": "FIX", "k0": 1e-6}), store=store)
    verdicts = store.verdicts(run_id=v.run_id)
    assert list(verdicts["verdict"]) == ["rejected"]
    assert list(verdicts["rule"]) == ["stuck_at_chance"]
    assert store.run(v.run_id)["status"] == "stopped"
    curves = curves_from_store(store, v.run["task"])
    assert len(curves) == 1 and curves[0]["policy"] == {"function": "FIX", "k0": 1e-6}
    assert [p["iteration"] for p in curves[0]["history"]] == [
        p["iteration"] for p in v.run["history"]
    ]
    # A second verification of the task reads that curve as its prior.
    again = verify(spec({"function": "FIX", "k0": 0.05}), store=store)
    assert again.verdict == "meets"


def test_nstep_plateau_below_target_before_its_step_is_not_rejected():
    # MNIST-1D/cnn1d, momentum at LR 0.2: the curve hovers at 0.6–0.7 from iteration 300
    # until the step at 750, then climbs past 0.75. Schedule-aware rules must wait for it.
    run = {
        "dataset": "mnist1d",
        "model": "cnn1d",
        "optimizer": MOMENTUM,
        "policy": {"function": "NSTEP", "k0": 0.2, "gamma": 0.1, "l": [750, 1125]},
        "batch_size": 64,
        "budget": 1500,
        "eval_every": 50,
        "seed": 0,
        "target": 0.75,
        "threads": 1,
    }
    v = verify(run, shadow=True)
    hist = v.run["history"]
    before = [p["val_top1"] for p in hist if 300 <= p["iteration"] < 750]
    assert max(before) < 0.75 and max(before) - min(before) < 0.3  # the plateau is real
    assert v.verdict == "meets" and v.iteration > 750
    assert v.decisions == []  # no rule would have stopped it, even in shadow


def test_keyboard_interrupt_is_stored_as_interrupted_and_reraised():
    class FakeStore:
        verdicts: list = []

        def record_verdict(self, run_id, verdict):
            self.verdicts.append((run_id, verdict))

    class Interrupt:
        def on_eval(self, run, point):
            if point["iteration"] >= 40:
                raise KeyboardInterrupt

    store = FakeStore()
    with pytest.raises(KeyboardInterrupt):
        verify(spec({"function": "FIX", "k0": 1e-6}), store=store, callbacks=[Interrupt()])
    ((_, stored),) = store.verdicts
    assert stored["verdict"] == "interrupted" and stored["iteration"] == 40
