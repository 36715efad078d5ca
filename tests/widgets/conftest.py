"""Fixtures for the widget tests: a store with a few recorded runs (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.widgets.fakes import fake_result


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'widgets.db'}"


@pytest.fixture
def filled_store(db_url: str):
    """A store with four runs: two tasks, FIX/TRI/COS policies, completed and stopped."""
    store_mod = pytest.importorskip("workbench.store")
    store = store_mod.open_store(db_url)
    runs = [
        fake_result({"function": "FIX", "k0": 0.05}, final=0.7),
        fake_result({"function": "TRI", "k0": 0.01, "k1": 0.1, "l": 25}, final=0.9),
        fake_result({"function": "COS", "k0": 0.0, "k1": 0.1, "l": 100}, final=0.6,
                    status="stopped"),
        fake_result({"function": "FIX", "k0": 0.01}, model="cnn1d", dataset="mnist1d",
                    final=0.55, budget=200),
    ]  # fmt: skip
    return store, [store.record_run(r) for r in runs]
