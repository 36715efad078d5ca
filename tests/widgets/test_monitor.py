"""RunMonitor: background runs from the composer's policy; the stop button ends them."""

from __future__ import annotations

import time

import pytest

from workbench.widgets import PolicyComposer, RunMonitor

pytest.importorskip("workbench.train")
pytest.importorskip("workbench.store")
TASK = {"dataset": "synthetic", "model": "mlp", "batch_size": 32, "eval_every": 10,
        "optimizer": {"name": "momentum", "momentum": 0.9}, "target": 0.99}  # fmt: skip


def _wait_for_points(monitor: RunMonitor, n: int) -> None:
    # Waits on the run's own progress (pytest-timeout guards against a hung run).
    while len(monitor.history) < n and monitor.running:
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_stop_button_ends_the_run_as_stopped_by_the_user(db_url: str) -> None:
    composer = PolicyComposer({"function": "FIX", "k0": 0.05}, budget=1_000_000)
    monitor = RunMonitor(composer, task=TASK, db_url=db_url)
    assert monitor.plot.layout.display == "none"  # nothing drawn yet: no broken picture
    monitor.start_button.click()
    _wait_for_points(monitor, 2)
    assert monitor.plot.layout.display is None and monitor.plot.value[:4] == b"\x89PNG"
    assert monitor.running, monitor.error
    monitor.stop_button.click()
    result = monitor.wait(60)
    assert result is not None and not monitor.running
    assert result["status"] == "stopped" and result["stop_reason"] == "user"
    assert 10 <= result["iterations"] < 1_000_000
    assert "stopped" in monitor.status.value and monitor.progress.bar_style == "warning"
    assert monitor.redraws >= 2 and monitor.plot.value[:4] == b"\x89PNG"
    assert monitor.decisions == [] and monitor.verifier_status.value == ""  # no verifier
    stored = monitor.store.run(result["run_id"], points=False)
    assert stored["status"] == "stopped" and stored["stop_reason"] == "user"
    assert stored["policy"] == {"function": "FIX", "k0": 0.05}


@pytest.mark.timeout(120)
def test_stop_before_the_loop_starts_still_stops(db_url: str) -> None:
    monitor = RunMonitor(policy={"function": "FIX", "k0": 0.05}, budget=1_000_000, task=TASK,
                         db_url=db_url, record=False)  # fmt: skip
    monitor.start()
    monitor.stop()  # usually before on_run_start: the monitor passes it on when it starts
    result = monitor.wait(60)
    assert result["status"] == "stopped" and result["stop_reason"] == "user"


@pytest.mark.timeout(120)
def test_verification_run_marks_the_verdict(db_url: str) -> None:
    pytest.importorskip("workbench.verify")
    composer = PolicyComposer({"function": "FIX", "k0": 0.05}, budget=200)
    monitor = RunMonitor(composer, task={**TASK, "target": 0.3}, db_url=db_url, mode="verify")
    monitor.start()
    monitor.wait(90)
    assert monitor.error is None
    assert monitor.verdict["verdict"] in ("meets", "fails", "rejected")
    assert monitor.result["run_id"] == monitor.verdict["run"]["run_id"]
    assert "verdict" in monitor.status.value
    assert len(monitor.store.verdicts(run_id=monitor.result["run_id"])) == 1


def test_bad_form_input_is_reported_not_raised(db_url: str) -> None:
    monitor = RunMonitor(PolicyComposer(), task=TASK, db_url=db_url)
    monitor.optimizer_settings.value = "{momentum: 0.9"
    monitor.start_button.click()
    assert not monitor.running and "optimizer settings" in monitor.status.value
    monitor.optimizer_settings.value = "{}"
    monitor.target.value = "high"
    monitor.start()
    assert "target" in monitor.status.value
