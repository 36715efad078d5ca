"""The mapping from a run's status to a verdict (DESIGN.md "Run status vs verdict")."""

from __future__ import annotations

import pytest

from workbench.verify import Decision, verdict_from_result


def result(status, reason=None, iterations=400, reached=None, **kw):
    return {
        "run_id": "r1", "status": status, "stop_reason": reason, "iterations": iterations,
        "iterations_to_target": reached, "final_top1": 0.5, "history": [], "error": None, **kw,
    }  # fmt: skip


def test_target_reached_is_meets_with_the_iteration():
    v = verdict_from_result(result("stopped", "target_reached", 120, reached=120), 400, 0.9)
    assert (v.verdict, v.iteration, v.compute_fraction, v.rule) == ("meets", 120, 0.3, None)


def test_meets_in_shadow_even_if_a_rule_fired_later():
    d = Decision("plateau", 300, "flat")
    v = verdict_from_result(result("completed", reached=120), 400, 0.9, d, [d], shadow=True)
    assert v.verdict == "meets" and v.iteration == 120 and v.compute_fraction == 1.0
    assert v.decisions[0]["rule"] == "plateau" and v.decisions[0]["action"] == "reject"


def test_budget_spent_below_target_fails():
    v = verdict_from_result(result("completed"), 400, 0.9)
    assert v.verdict == "fails" and v.rule is None and v.compute_fraction == 1.0


def test_rule_stop_is_rejected_with_rule_evidence_and_prediction():
    d = Decision("unreachable_target", 100, "too slow", evidence={"alpha": 0.1},
                 predicted_final=0.6)  # fmt: skip
    v = verdict_from_result(result("stopped", "rule:unreachable_target", 100), 400, 0.9, d, [d])
    assert (v.verdict, v.rule, v.iteration, v.predicted_final) == (
        "rejected", "unreachable_target", 100, 0.6)  # fmt: skip
    assert v.evidence["reason"] == "too slow" and v.evidence["alpha"] == 0.1


@pytest.mark.parametrize("reason", ["non_finite_loss", "rule:divergence"])
def test_diverged_names_the_divergence_rule(reason):
    v = verdict_from_result(result("diverged", reason, 40), 400, 0.9)
    assert v.verdict == "diverged" and v.rule == "divergence" and v.iteration == 40


@pytest.mark.parametrize(
    ("status", "reason"), [("stopped", "user"), ("interrupted", None), ("failed", "error")]
)
def test_user_stop_interruption_and_crash_are_interrupted(status, reason):
    v = verdict_from_result(result(status, reason, 50, error="Traceback…"), 400, 0.9)
    assert v.verdict == "interrupted" and v.rule is None
    assert v.evidence["status"] == status


def test_to_dict_has_the_contract_keys():
    d = verdict_from_result(result("completed"), 400, 0.9).to_dict()
    for key in ("verdict", "iteration", "compute_fraction", "rule", "evidence",
                "predicted_final", "decisions", "run"):  # fmt: skip
        assert key in d
    assert "run" not in verdict_from_result(result("completed"), 400, 0.9).to_dict(
        with_run=False)  # fmt: skip
