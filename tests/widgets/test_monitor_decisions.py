"""RunMonitor shows the verifier's decisions live, with the point they were made at."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.widgets import RunMonitor

pytest.importorskip("workbench.train")
pytest.importorskip("workbench.verify")
TASK = {"dataset": "synthetic", "model": "mlp", "batch_size": 32, "eval_every": 10,
        "optimizer": {"name": "momentum", "momentum": 0.9}, "target": 0.9}  # fmt: skip
TINY_LR = {"function": "FIX", "k0": 1e-6}  # never leaves chance: stuck_at_chance at 30
HUGE_LR = {"function": "FIX", "k0": 50.0}  # non-finite loss within a few steps


class RecordingMonitor(RunMonitor):
    """A RunMonitor that keeps what the view showed at every redraw."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.shown: list[dict[str, Any]] = []
        super().__init__(*args, **kwargs)

    def redraw(self) -> None:
        super().redraw()
        self.shown.append({
            "iteration": self.history[-1]["iteration"] if self.history else None,
            "rules": [d["rule"] for d in self.decisions],
            "ended": self.result is not None,  # on_run_end not called yet while False
            "line": self.verifier_status.value,
            "marks": self._marks(),
        })  # fmt: skip


def _verify(policy: dict[str, Any], budget: int, **kw: Any) -> RecordingMonitor:
    monitor = RecordingMonitor(policy=policy, budget=budget, task=TASK, mode="verify",
                               record=False, **kw)  # fmt: skip
    monitor.start()
    monitor.wait(90)
    assert not monitor.running and monitor.error is None, monitor.error
    return monitor


def _first_with_decision(monitor: RecordingMonitor) -> tuple[int, dict[str, Any]]:
    return next((i, s) for i, s in enumerate(monitor.shown) if s["rules"])


@pytest.mark.timeout(120)
def test_a_stop_decision_shows_with_its_point_before_the_run_ends() -> None:
    monitor = _verify(TINY_LR, 200)
    verdict = monitor.verdict
    assert verdict["verdict"] == "rejected" and verdict["rule"] == "stuck_at_chance"
    decided = verdict["decisions"][0]
    i, shown = _first_with_decision(monitor)
    # Drawn by the redraw of the point it was made at, while the run was still going.
    assert shown["iteration"] == decided["iteration"] == verdict["iteration"]
    assert not shown["ended"] and shown["rules"] == ["stuck_at_chance"]
    assert "<b>stop</b>" in shown["line"] and "stuck_at_chance" in shown["line"]
    assert "at chance" in shown["line"]  # the rule's reason
    assert "forecast" in shown["line"]  # its predicted_final
    assert [it for it, _ in shown["marks"]] == [decided["iteration"]]
    assert shown["marks"][0][1].startswith("stuck_at_chance: reject (forecast ")
    # Before it: the verifier said continue at every point, and nothing was marked.
    for before in monitor.shown[:i]:
        assert not before["rules"] and not before["marks"]
        assert "continue" in before["line"] and not before["ended"]
    # One redraw per point (the decision rides on its point's redraw) and one at the end.
    assert monitor.redraws == len(monitor.history) + 1 == len(monitor.shown)
    # The live log is the verifier's own; the rule's stop is marked once.
    assert monitor.decisions == verdict["decisions"] and monitor.decision == decided
    final = monitor.shown[-1]
    assert final["ended"] and len(final["marks"]) == 1
    assert "rejected" in monitor.status.value and "stuck_at_chance" in monitor.status.value
    assert "stuck_at_chance" in monitor.verifier_status.value


@pytest.mark.timeout(120)
def test_divergence_shows_as_diverged_with_the_rule_name() -> None:
    monitor = _verify(HUGE_LR, 200)
    assert monitor.verdict["verdict"] == "diverged"
    assert monitor.verdict["rule"] == "divergence"
    _, shown = _first_with_decision(monitor)
    assert not shown["ended"] and shown["rules"] == ["divergence"]
    assert "<b>diverged</b>" in shown["line"] and "divergence" in shown["line"]
    assert "non-finite" in shown["line"]
    assert monitor.progress.bar_style == "danger"


@pytest.mark.timeout(120)
def test_shadow_decision_shows_mid_run_and_the_run_goes_on() -> None:
    monitor = _verify(TINY_LR, 100, shadow=True)
    verdict = monitor.verdict
    assert verdict["shadow"] and verdict["verdict"] == "fails"
    assert monitor.result["iterations"] == 100 and monitor.result["status"] == "completed"
    i, shown = _first_with_decision(monitor)
    decided = verdict["decisions"][0]
    assert shown["iteration"] == decided["iteration"] < 100
    assert "would stop" in shown["line"] and decided["rule"] in shown["line"]
    # The points after the decision keep showing it while the run continues.
    later = [s for s in monitor.shown[i + 1 :] if not s["ended"]]
    assert later and all(decided["rule"] in s["rules"] for s in later)
    assert all("goes on" in s["line"] for s in later)
    assert [d["rule"] for d in monitor.decisions] == [d["rule"] for d in verdict["decisions"]]
    assert "goes on" not in monitor.verifier_status.value  # the run has ended
